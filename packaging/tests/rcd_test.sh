#!/bin/sh
# Checks the FreeBSD rc.d script (packaging/freebsd/www/sessiond/files/
# sessiond.in) on Linux: after the port's %%PREFIX%% substitution it must
# pass shellcheck, and run against a stub rc.subr (rc.subr.stub, which
# prints the command lines the real one would run) it must start, stop,
# reload and report status with the command lines below.
# Usage: rcd_test.sh SOURCE_DIR
set -eu

src=${1:?usage: rcd_test.sh SOURCE_DIR}
rc_in="${src}/packaging/freebsd/www/sessiond/files/sessiond.in"
stub="${src}/packaging/tests/rc.subr.stub"

if ! command -v shellcheck >/dev/null 2>&1; then
	echo "FAIL: shellcheck is not installed (apt-get install shellcheck)" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

# What the port does at build time (SUB_LIST: PREFIX).
sed 's|%%PREFIX%%|/usr/local|g' "${rc_in}" >"${work}/sessiond"
if grep -n '%%' "${work}/sessiond"; then
	echo "FAIL: a %%VAR%% the port does not substitute is left" >&2
	exit 1
fi

echo "== shellcheck (sh) on the substituted script and on the stub"
shellcheck -s sh "${work}/sessiond"
shellcheck -s sh "${stub}"

# The script under test, reading the stub instead of /etc/rc.subr.
if [ "$(grep -c '^\. /etc/rc\.subr$' "${work}/sessiond")" -ne 1 ]; then
	echo "FAIL: the script must source /etc/rc.subr exactly once" >&2
	exit 1
fi
sed "s|^\. /etc/rc\.subr\$|. ${stub}|" "${work}/sessiond" >"${work}/under-test"

# install(1) would create directories as root; print instead.
mkdir "${work}/bin"
cat >"${work}/bin/install" <<'EOF'
#!/bin/sh
echo "would run: install $*"
EOF
chmod +x "${work}/bin/install"

failures=0
# run NAME RC.CONF-TEXT PID ARG: runs the script, output in $work/NAME.out
run() {
	printf '%s\n' "$2" >"${work}/$1.conf"
	set +e
	PATH="${work}/bin:${PATH}" RC_STUB_CONF="${work}/$1.conf" \
		RC_STUB_PID="$3" sh "${work}/under-test" "$4" \
		>"${work}/$1.out" 2>&1
	echo "$?" >"${work}/$1.rc"
	set -e
	# One space between words and none at the end, so expectations do not
	# depend on how empty variables space out a command line.
	tr -s ' ' <"${work}/$1.out" | sed 's/ $//' >"${work}/$1.norm"
}
expect_line() {
	if ! grep -qxF -- "$2" "${work}/$1.norm"; then
		echo "FAIL [$1]: expected the line: $2" >&2
		failures=$((failures + 1))
	fi
}
expect_no() {
	if grep -qF -- "$2" "${work}/$1.norm"; then
		echo "FAIL [$1]: unexpected: $2" >&2
		failures=$((failures + 1))
	fi
}
expect_rc() {
	if [ "$(cat "${work}/$1.rc")" != "$2" ]; then
		echo "FAIL [$1]: exit status $(cat "${work}/$1.rc"), expected $2" >&2
		failures=$((failures + 1))
	fi
}
show() {
	echo "-- $1 (exit $(cat "${work}/$1.rc"))"
	cat "${work}/$1.out"
}

daemon_line="would run: /usr/sbin/daemon -f -S -T sessiond"
daemon_line="${daemon_line} -p /var/run/sessiond/sessiond.pid -u sessiond"
daemon_line="${daemon_line} /usr/local/sbin/sessiond"
daemon_line="${daemon_line} -c /usr/local/etc/sessiond/sessiond.conf"
daemon_line="${daemon_line} --data-dir /var/db/sessiond"

echo "== start, disabled"
run start_off 'sessiond_enable="NO"' "" start
show start_off
expect_rc start_off 0
expect_no start_off "would run"
expect_line start_off "Cannot 'start' sessiond. Set sessiond_enable to YES in /etc/rc.conf or use 'onestart' instead of 'start'."

echo "== start, enabled, with sessiond_flags"
run start 'sessiond_enable="YES"
sessiond_flags="--log-level debug"
sessiond_env_file="/usr/local/etc/sessiond/env"' "" start
show start
expect_rc start 0
expect_line start "would require: /usr/local/etc/sessiond/sessiond.conf"
expect_line start "would run: install -d -o sessiond -g sessiond -m 0755 /var/run/sessiond"
expect_line start "would run: install -d -o sessiond -g sessiond -m 0710 /var/db/sessiond"
expect_line start "would source: /usr/local/etc/sessiond/env"
# The flags go to sessiond, after the program, not to daemon(8).
expect_line start "${daemon_line} --log-level debug"
# daemon -u drops privileges; rc.subr must not su first.
expect_no start "su -m"

echo "== start, another user and data directory"
run start_user 'sessiond_enable="YES"
sessiond_user="websess"
sessiond_group="www"
sessiond_data_dir="/srv/sessiond"' "" start
show start_user
expect_rc start_user 0
expect_line start_user "would run: install -d -o websess -g www -m 0710 /srv/sessiond"
expect_line start_user "would run: /usr/sbin/daemon -f -S -T sessiond -p /var/run/sessiond/sessiond.pid -u websess /usr/local/sbin/sessiond -c /usr/local/etc/sessiond/sessiond.conf --data-dir /srv/sessiond"
expect_no start_user "su -m"

echo "== start while running"
run start_again 'sessiond_enable="YES"' 4242 start
show start_again
expect_rc start_again 1
expect_no start_again "would run"

echo "== stop, reload, status while running (pid 4242)"
run stop 'sessiond_enable="YES"' 4242 stop
show stop
expect_rc stop 0
expect_line stop "would run: kill -TERM 4242"
run reload 'sessiond_enable="YES"' 4242 reload
show reload
expect_rc reload 0
expect_line reload "would run: kill -HUP 4242"
run status 'sessiond_enable="YES"' 4242 status
show status
expect_rc status 0
expect_line status "sessiond is running as pid 4242."
expect_line status "would check: /var/run/sessiond/sessiond.pid for /usr/local/sbin/sessiond"

echo "== status and stop when not running"
run status_down 'sessiond_enable="YES"' "" status
show status_down
expect_rc status_down 1
expect_line status_down "sessiond is not running."
run stop_down 'sessiond_enable="YES"' "" stop
show stop_down
expect_rc stop_down 1
expect_no stop_down "would run"

echo "== unknown command"
run bogus 'sessiond_enable="YES"' "" frobnicate
show bogus
expect_rc bogus 1

if [ "${failures}" -ne 0 ]; then
	echo "rcd_test: ${failures} failure(s)" >&2
	exit 1
fi
echo "rcd_test: all checks passed"
