#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The privilege boundary of a node start (issue 8 points 1, 4, 5; orchd(8) "NODES AND ACCOUNTS"), orchd as
# root with real accounts:
# - a job's LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT and GLIBC_TUNABLES never act on the root helper: a marker
#   library never runs as root nor in orchd-exec, while the node itself (as its owner) still gets them; a
#   PAM probe (pam_exec, run by orchd-exec as root) sees an empty helper environment and no marker mapped;
# - no existence oracle: a program or cwd inside root's 0700 directory that exists and one that does not give
#   the same reason, as in the owner's shell;
# - locked and expired accounts are refused at acceptance (drop and Submit) and, locked after acceptance, at
#   the next node start (account:locked, never run, kept across a restart);
# - limits.conf applies to nodes (pam_limits), the open-files limit is reset, umask 022 unless the job sets
#   one (root's nodes too), and nodes do not get no_new_privs.

. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null ||
        ! command -v gcc >/dev/null || [ ! -e /etc/pam.d/common-account ]; then
        skip "exec boundary" "needs root, useradd, setpriv, gcc and /etc/pam.d/common-account"
        done_testing
        exit 0
fi
PAM_EXEC=$(find /lib /usr/lib -name pam_exec.so -path '*security*' 2>/dev/null | head -n1)
[ -n "$PAM_EXEC" ] || bail_out "pam_exec.so not found (libpam-modules)"

U=o8exa
lock_accounts
LIMITS=/etc/security/limits.d/o8exa.conf
exec_cleanup() {
        rm -f "$LIMITS"
        id "$U" >/dev/null 2>&1 && shadow_cmd userdel -r "$U" >/dev/null 2>&1
}
trap 'rc=$?; exec_cleanup; (exit $rc); _cleanup' EXIT
id "$U" >/dev/null 2>&1 || shadow_cmd useradd -m -s /bin/sh "$U" || bail_out "cannot create user $U"
shadow_cmd usermod -p '*' "$U" # useradd's "!" is a locked password: "*" is no password, and not locked
uid=$(id -u "$U")

as() { # as CMD…: CMD as $U with their groups and a login-like environment
        setpriv --reuid="$U" --regid="$(id -g "$U")" --init-groups \
                env HOME="/home/$U" USER="$U" LOGNAME="$U" PATH="$NODE_PATH" "$@"
}
submit_as() { as "$ORCHCTL" -s "$SOCK" submit "$@"; }
drop_as() { # drop_as NAME FILE: $U drops FILE as NAME the normal way (tmp/, then rename into new/)
        as sh -c "umask 022 && cp '$2' '$SPOOL/tmp/$1' && mv '$SPOOL/tmp/$1' '$SPOOL/new/$1'"
}
chmod 711 "$T"
chmod 755 "$W"

# ---- marker libraries ---------------------------------------------------------------------------------
# One line per load: which variable brought it, who ran it, in which program. /proc/self/comm tells
# orchd-exec (the helper, root until the drop) from the node's own program.
MARKS=$T/marks/log LIB=$T/lib
mkdir -p "$T/marks" "$LIB/fake"
chmod 1777 "$T/marks"
: >"$MARKS"
chmod 666 "$MARKS"
cat >"$T/marker.c" <<EOF
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
unsigned int la_version(unsigned int v) { return v; } /* an audit module, too */
__attribute__((constructor)) static void mark(void) {
        char comm[64] = "?";
        int fd = open("/proc/self/comm", O_RDONLY);
        if (fd >= 0) {
                ssize_t n = read(fd, comm, sizeof(comm) - 1);
                comm[n > 0 ? n - 1 : 0] = 0;
                close(fd);
        }
        fd = open("$MARKS", O_WRONLY | O_APPEND);
        if (fd >= 0) {
                dprintf(fd, "%s uid=%d euid=%d comm=%s\n", TAG, (int) getuid(), (int) geteuid(), comm);
                close(fd);
        }
}
EOF
gcc -shared -fPIC -DTAG='"preload"' -o "$LIB/libmark-preload.so" "$T/marker.c" &&
        gcc -shared -fPIC -DTAG='"audit"' -o "$LIB/libmark-audit.so" "$T/marker.c" &&
        # Named like a library orchd-exec links: LD_LIBRARY_PATH would put it in place of PAM's.
        gcc -shared -fPIC -DTAG='"libpath"' -Wl,-soname,libpam.so.0 -o "$LIB/fake/libpam.so.0" "$T/marker.c" &&
        printf 'int main(void) { return 0; }\n' >"$T/usespam.c" &&
        gcc -o "$W/usespam" "$T/usespam.c" -Wl,--no-as-needed -lpam ||
        bail_out "cannot build the marker libraries"
chmod -R a+rX "$LIB" "$W"

# ---- a PAM probe inside the helper ----------------------------------------------------------------------
# The test's own PAM service: the shipped file plus pam_exec, which runs the probe from orchd-exec while it
# is root (account stack, before the drop). $PPID is the helper.
PROBE=$T/probe.log
mkdir -p "$T/pam.d"
cat >"$T/probe.sh" <<EOF
#!/bin/sh
n=\$(tr -cd '\\000' </proc/\$PPID/environ | wc -c)
if grep -q 'libmark\|$LIB/fake' /proc/\$PPID/maps; then m=yes; else m=no; fi
echo "probe uid=\$(id -u) comm=\$(cat /proc/\$PPID/comm) env=\$n marker_mapped=\$m" >>"$PROBE"
EOF
chmod 755 "$T/probe.sh"
{
        echo "account required $PAM_EXEC quiet $T/probe.sh"
        cat "$TOP_SRCDIR/contrib/pam.d/orchd"
} >"$T/pam.d/orchd"
ln -s /etc/pam.d/common-account "$T/pam.d/common-account"
export ORCHD_PAM_CONFDIR=$T/pam.d

# Started with a restrictive umask: nodes must still get 022.
start_orchd_077() {
        umask 077
        start_orchd
        umask 022
}
start_orchd_077

loader_job() { # loader_job NAME: one node per loader variable
        cat <<EOF
{ "name": "$1", "nodes": {
    "preload": { "cmd": "echo preload-ran", "env": { "LD_PRELOAD": "$LIB/libmark-preload.so" } },
    "libpath": { "cmd": ["$W/usespam"], "env": { "LD_LIBRARY_PATH": "$LIB/fake" } },
    "audit": { "cmd": ["/bin/true"], "env": { "LD_AUDIT": "$LIB/libmark-audit.so" } },
    "tunables": { "cmd": "printf '%s\\\\n' \"\$GLIBC_TUNABLES\"",
                  "env": { "GLIBC_TUNABLES": "glibc.malloc.perturb=165:glibc.malloc.check=3" } }
} }
EOF
}
loader_checks() { # loader_checks HOW ID
        local how=$1 id=$2 v
        is_exit 0 "$how: the job with the four loader variables succeeds" wait_job "$id"
        for v in preload libpath audit; do
                like "$(grep "^$v " "$MARKS")" "^$v uid=$uid euid=$uid comm=" "$how: $v's marker reached the node, as $U"
        done
        is "$(cat "$SPOOL/jobs/$id/logs/tunables.1.log")" "glibc.malloc.perturb=165:glibc.malloc.check=3" \
                "$how: GLIBC_TUNABLES reached the node"
        is "$(grep -c 'uid=0\|euid=0' "$MARKS")" 0 "$how: no marker ever ran as root"
        is "$(grep -c 'comm=orchd-exec' "$MARKS")" 0 "$how: no marker ever ran in orchd-exec (before the drop)"
        ok "$how: the PAM probe ran inside orchd-exec as root" grep -q "^probe uid=0 comm=orchd-exec " "$PROBE"
        is "$(grep -vc ' env=0 marker_mapped=no$' "$PROBE")" 0 \
                "$how: orchd-exec had an empty environment and no marker mapped, at every account check"
}

loader_job loaders-drop >"$T/loaders-drop.json"
chmod 644 "$T/loaders-drop.json"
drop_as loaders-drop.json "$T/loaders-drop.json"
id=$(job_id_of loaders-drop) || bail_out "the dropped job was not accepted"
loader_checks "new/" "$id"

: >"$MARKS"
: >"$PROBE"
loader_job loaders-submit >"$T/loaders-submit.json"
chmod 644 "$T/loaders-submit.json"
id=$(submit_as "$T/loaders-submit.json") || bail_out "submit as $U failed"
loader_checks "submit" "$id"

# ---- no existence oracle --------------------------------------------------------------------------------
# A directory only root may enter, holding a program and a directory: to the owner, what exists there and
# what does not look alike, as in their shell (execve and chdir say EACCES for both).
S=$T/secret
mkdir -p "$S/sub"
cp /bin/true "$S/prog"
chmod 700 "$S"
cat >"$T/oracle.json" <<EOF
{ "nodes": {
    "abs-exists": { "cmd": ["$S/prog"] },
    "abs-missing": { "cmd": ["$S/nope"] },
    "path-exists": { "cmd": ["prog"], "env": { "PATH": "$S" } },
    "path-missing": { "cmd": ["nope"], "env": { "PATH": "$S" } },
    "cwd-exists": { "cmd": ["/bin/true"], "cwd": "$S/sub" },
    "cwd-missing": { "cmd": ["/bin/true"], "cwd": "$S/none" }
} }
EOF
chmod 644 "$T/oracle.json"
id=$(submit_as "$T/oracle.json") || bail_out "submit as $U failed"
is_exit 1 "the job probing root's 0700 directory fails" wait_job "$id"
for n in abs path cwd; do
        is "$(node_field "$id" "$n-exists" reason) $(node_field "$id" "$n-missing" reason)" "spawn:EACCES spawn:EACCES" \
                "$n: an existing and a missing entry give the same reason"
done
ok "a cwd failure is still named as such in the log" grep -q "Working directory $S/none of '/bin/true' is not usable" "$T/orchd.log"

# ---- accounts at acceptance -----------------------------------------------------------------------------
printf '{ "nodes": { "p": { "cmd": ["/bin/true"] } } }' >"$T/small.json"
chmod 644 "$T/small.json"
refused() { # refused STATE WORD: the account, in STATE, is refused for a drop and a Submit, saying WORD
        drop_as "$1.json" "$T/small.json"
        ok "$1: a dropped file is rejected" wait_for 10 test -e "$SPOOL/rejected/$uid/$1.json.error"
        like "$(cat "$SPOOL/rejected/$uid/$1.json.error" 2>/dev/null)" "^$1\\.json: account $2: .*user $U" \
                "$1: the .error file says 'account $2' and names the user"
        is_exit 77 "$1: Submit is refused (77)" submit_as "$T/small.json"
        like "$(submit_as "$T/small.json" 2>&1)" "small\\.json: permission denied: account $2: .*$U" \
                "$1: and orchctl says why"
}
shadow_cmd usermod -L "$U"
refused locked locked
shadow_cmd usermod -U "$U"
shadow_cmd usermod -p '*' "$U"
shadow_cmd usermod -e 1 "$U"
refused expired expired
shadow_cmd usermod -e '' "$U"
id=$(submit_as "$T/small.json") || bail_out "submit as $U failed after the account was restored"
is_exit 0 "the restored account runs jobs again" wait_job "$id"

# ---- locked after acceptance ----------------------------------------------------------------------------
# First node holds the job until the test has locked the account; the second must then never run.
G=$T/gate
mkdir -p "$G"
chmod 1777 "$G"
cat >"$T/gated.json" <<EOF
{ "nodes": {
    "first": { "cmd": "touch $G/first-running; while [ ! -e $G/release ]; do sleep 0.05; done" },
    "second": { "cmd": "touch $G/second-ran", "after": ["first"] }
} }
EOF
chmod 644 "$T/gated.json"
id=$(submit_as "$T/gated.json") || bail_out "submit as $U failed"
wait_for 20 test -e "$G/first-running" || bail_out "the first node did not start"
shadow_cmd usermod -L "$U"
touch "$G/release"
is_exit 1 "locked while running: the job fails" wait_job "$id"
is "$(node_field "$id" first state)" succeeded "the node already running finished normally"
is "$(node_field "$id" second state) $(node_field "$id" second reason)" "failed account:locked" \
        "the next node fails with account:locked"
ok "and never ran" test ! -e "$G/second-ran"
like "$(ctl status "$id")" "second +failed .*account:locked" "orchctl status shows account:locked"
stop_orchd || bail_out "orchd did not stop"
start_orchd_077
is "$(node_field "$id" second reason)" "account:locked" "account:locked is read back from the journal"
shadow_cmd usermod -U "$U"
shadow_cmd usermod -p '*' "$U"

# ---- limits, umask, no_new_privs ------------------------------------------------------------------------
probe='umask; ulimit -Sn; ulimit -Hn; grep NoNewPrivs /proc/self/status'
cat >"$T/env.json" <<EOF
{ "nodes": {
    "default": { "cmd": "$probe" },
    "own": { "cmd": "$probe", "umask": "027" }
} }
EOF
chmod 644 "$T/env.json"
id=$(submit_as "$T/env.json") || bail_out "submit as $U failed"
is_exit 0 "a job printing umask and limits succeeds" wait_job "$id"
out=$(cat "$SPOOL/jobs/$id/logs/default.1.log")
diag "default node: $out"
is "$(sed -n 1p <<<"$out")" 0022 "a node gets umask 022 (orchd was started with 077)"
ok "its soft open-files limit is at most 1024" test "$(sed -n 2p <<<"$out")" -le 1024
like "$out" "NoNewPrivs:.0" "nodes do not get no_new_privs (setuid programs work, as in cron jobs)"
is "$(sed -n 1p "$SPOOL/jobs/$id/logs/own.1.log")" 0027 "a node with umask \"027\" gets it"

printf '%s soft nofile 777\n%s hard nofile 888\n' "$U" "$U" >"$LIMITS"
id=$(submit_as "$T/env.json") || bail_out "submit as $U failed"
is_exit 0 "with limits.d for $U, the job succeeds" wait_job "$id"
is "$(sed -n 2,3p "$SPOOL/jobs/$id/logs/default.1.log" | tr '\n' ' ')" "777 888 " \
        "the node gets the account's login limits (pam_limits)"
rm -f "$LIMITS"

# Root's own nodes start without the helper unless they set a umask.
cat >"$T/rootenv.json" <<EOF
{ "nodes": {
    "default": { "cmd": "id -u; umask" },
    "own": { "cmd": "id -u; umask", "umask": "0007" }
} }
EOF
id=$(ctl submit "$T/rootenv.json") || bail_out "submit as root failed"
is_exit 0 "root's job succeeds" wait_job "$id"
is "$(tr '\n' ' ' <"$SPOOL/jobs/$id/logs/default.1.log")" "0 0022 " "root's node gets umask 022"
is "$(tr '\n' ' ' <"$SPOOL/jobs/$id/logs/own.1.log")" "0 0007 " "root's node with umask \"0007\" gets it, still as root"

done_testing
