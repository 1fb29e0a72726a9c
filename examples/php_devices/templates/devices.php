<h1>Your devices</h1>
<p>These browsers are signed in to your account.</p>
<table id="devices">
  <thead><tr><th>Device</th><th>IP address</th><th>Last seen</th><th>Signed in</th><th></th></tr></thead>
  <tbody>
  <?php foreach ($devices as $d): ?>
    <tr class="device<?= $d->current ? ' current' : '' ?>">
      <td title="<?= e($d->userAgent) ?>"><?= e(describe_device($d->userAgent)) ?></td>
      <td><?= e($d->ip !== '' ? $d->ip : 'unknown') ?></td>
      <td title="<?= e(gmdate('Y-m-d H:i:s', $d->lastSeenAt)) ?> UTC"><?= e(ago($d->lastSeenAt)) ?></td>
      <td title="<?= e(gmdate('Y-m-d H:i:s', $d->authenticatedAt ?: $d->createdAt)) ?> UTC"><?= e(ago($d->authenticatedAt ?: $d->createdAt)) ?></td>
      <td><?php if ($d->current): ?><span class="this">this device</span><?php endif ?></td>
    </tr>
  <?php endforeach ?>
  </tbody>
</table>
<form method="post" action="/devices/sign-out-others">
  <input type="hidden" name="csrf_token" value="<?= e($csrf) ?>">
  <button type="submit" id="sign-out-others"<?= count($devices) < 2 ? ' disabled' : '' ?>>Sign out all other locations</button>
</form>
