#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Who a node runs as is resolved at its start, not when the job was loaded (issue 8, finding F5; orchd(8)
# "NODES AND ACCOUNTS"), orchd as root with real accounts:
# - a group removed from the owner while their job runs is gone from the job's next node;
# - a uid freed by userdel and given to another account (useradd -u) is never run as: the job's next node,
#   and the same node retried with orchctl retry, fail with account:unknown and never run.
#
# orchd runs with KillNodes=yes: the restart in the middle is the old stop.

. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null || ! command -v gpasswd >/dev/null ||
        [ ! -e /etc/pam.d/common-account ]; then
        skip "accounts at node start" "needs root, useradd, gpasswd and /etc/pam.d/common-account"
        done_testing
        exit 0
fi

A=o8cra GRP=o8crg C=o8crc D=o8crd
_groups+=("$C") # C's own group, should userdel -f leave it behind
_accounts+=("$D") # made below, with C's uid
add_group "$GRP"
add_account "$A" -m -G "$GRP"
# C's uid is above UID_MAX (login.defs), where useradd never allocates one by itself: once C is deleted, no
# account another test creates meanwhile can take the uid D is to get.
uid_c=$(awk '$1 == "UID_MAX" { print $2 + 1 }' /etc/login.defs 2>/dev/null)
uid_c=${uid_c:-60001}
while getent passwd "$uid_c" >/dev/null; do uid_c=$((uid_c + 1)); done
add_account "$C" -m -G "$GRP" -u "$uid_c"
gid_grp=$(getent group "$GRP" | cut -d: -f3)
chmod 711 "$T"
G=$T/gate
mkdir -p "$G"
chmod 1777 "$G"
start_orchd --kill-nodes yes

submit_as() { # submit_as USER FILE
        setpriv --reuid="$1" --regid="$(id -g "$1")" --init-groups env HOME="/home/$1" PATH="$NODE_PATH" \
                "$ORCHCTL" -s "$SOCK" submit "$2"
}
gated_job() { # gated_job TAG: "first" waits for $G/TAG-release, "second" runs after it; both leave markers
        cat <<EOF
{ "nodes": {
    "first": { "cmd": "id -G > $G/$1-first.groups; touch $G/$1-first-running; while [ ! -e $G/$1-release ]; do sleep 0.05; done" },
    "second": { "cmd": "id -G > $G/$1-second.groups; touch $G/$1-second-ran-\$(id -un)", "after": ["first"] }
} }
EOF
}

# ---- a group removed while the job runs ----------------------------------------------------------------
gated_job grp >"$T/grp.json"
chmod 644 "$T/grp.json"
id=$(submit_as "$A" "$T/grp.json") || bail_out "submit as $A failed"
wait_for 20 test -e "$G/grp-first-running" || bail_out "the first node did not start"
ok "the first node has $GRP" grep -qw "$gid_grp" "$G/grp-first.groups"
shadow_cmd gpasswd -d "$A" "$GRP" >/dev/null || bail_out "gpasswd -d failed"
touch "$G/grp-release"
is_exit 0 "the job succeeds" wait_job "$id"
ok "the second node ran" test -e "$G/grp-second-ran-$A"
diag "second node's groups: $(cat "$G/grp-second.groups")"
ok "the second node, started after gpasswd -d, no longer has $GRP" \
        sh -c "! grep -qw '$gid_grp' '$G/grp-second.groups'"
is "$(tr ' ' '\n' <"$G/grp-second.groups" | sort -n | tr '\n' ' ')" \
        "$(id -G "$A" | tr ' ' '\n' | sort -n | tr '\n' ' ')" "its groups are the account's now"

# ---- a uid reused by another account -------------------------------------------------------------------
gated_job reuse >"$T/reuse.json"
chmod 644 "$T/reuse.json"
id=$(submit_as "$C" "$T/reuse.json") || bail_out "submit as $C failed"
wait_for 20 test -e "$G/reuse-first-running" || bail_out "the first node did not start"
shadow_cmd userdel -f -r "$C" >/dev/null 2>&1 # its home is /home/$C (add_account -m)
getent group "$C" >/dev/null && shadow_cmd groupdel "$C"
id "$C" >/dev/null 2>&1 && bail_out "userdel -f $C failed"
shadow_cmd useradd -u "$uid_c" -m -s /bin/sh "$D" || bail_out "cannot create $D with uid $uid_c"
shadow_cmd usermod -p '*' "$D"
touch "$G/reuse-release"
is_exit 1 "the job of the deleted account fails" wait_job "$id"
is "$(node_field "$id" first state)" succeeded "the node already running finished"
is "$(node_field "$id" second state) $(node_field "$id" second reason)" "failed account:unknown" \
        "the next node fails with account:unknown: uid $uid_c is $D now"
ok "and never ran (as $D or anyone)" sh -c "! ls '$G'/reuse-second-ran-* >/dev/null 2>&1"
out=$(ctl retry "$id") || bail_out "orchctl retry failed: $out"
is_exit 1 "retried, the job fails again" wait_job "$id"
is "$(node_field "$id" second reason)" "account:unknown" "the retried node fails with account:unknown"
ok "and never ran" sh -c "! ls '$G'/reuse-second-ran-* >/dev/null 2>&1"
stop_orchd || bail_out "orchd did not stop"
start_orchd --kill-nodes yes
out=$(ctl retry "$id") || bail_out "orchctl retry after a restart failed: $out"
is_exit 1 "after a restart (the account is loaded anew), a retry fails again" wait_job "$id"
is "$(node_field "$id" second reason)" "account:unknown" "with account:unknown"
ok "and the node never ran" sh -c "! ls '$G'/reuse-second-ran-* >/dev/null 2>&1"

done_testing
