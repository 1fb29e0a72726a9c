<?php /* The page frame: flash messages, then the page's template. */ ?>
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title><?= e(['login' => 'Sign in', 'devices' => 'Your devices', 'missing' => 'Not found'][$template]) ?> · sessiond demo</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  .flash { padding: .5rem .8rem; border-radius: 4px; background: #e8f4ea; margin: .4rem 0; }
  .flash.error { background: #fbe9e9; }
  table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
  th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #ddd; }
  .this { font-weight: 600; color: #176b2c; }
  form.inline { display: inline; }
  button { font: inherit; padding: .35rem .9rem; }
  label { display: block; margin: .5rem 0; }
  .muted { color: #777; font-size: .9em; }
</style>
</head>
<body>
<header><strong>sessiond demo</strong> (PHP)<?php if ($template === 'devices'): ?>
  · signed in as <span id="user"><?= e($user) ?></span>
  <form class="inline" method="post" action="/logout">
    <input type="hidden" name="csrf_token" value="<?= e($csrf) ?>">
    <button type="submit" id="sign-out">Sign out</button>
  </form>
<?php endif ?></header>
<?php foreach ($flashes as [$category, $message]): ?>
  <p class="flash <?= e($category) ?>" role="status"><?= e($message) ?></p>
<?php endforeach ?>
<?php require __DIR__ . "/$template.php"; ?>
</body>
</html>
