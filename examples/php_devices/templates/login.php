<h1>Sign in</h1>
<form method="post" action="/login" id="login">
  <input type="hidden" name="csrf_token" value="<?= e($csrf) ?>">
  <label>User <input name="user" id="user" autocomplete="username" required></label>
  <label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
  <button type="submit" id="sign-in">Sign in</button>
</form>
<p class="muted">Demo users: alice / wonderland, bob / builder.</p>
