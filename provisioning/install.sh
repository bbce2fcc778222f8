#!/usr/bin/env bash
# Install RestAI Edge on a branch device (Debian/Ubuntu with systemd), as root.
#
#   sudo provisioning/install.sh                      # from a source checkout
#   sudo provisioning/install.sh dist/restai_edge-0.1.0-py3-none-any.whl
#   sudo provisioning/install.sh --enable ...         # also enable + start the service
#   provisioning/install.sh --dry-run                 # print the plan, change nothing
#
# What it does (re-running it upgrades in place):
#   1. python3 -m venv /opt/restai-edge/venv and pip-installs the package into it
#   2. installs systemd/restai-edge.service to /etc/systemd/system/
#   3. installs /usr/local/sbin/restai-edge-admin, which runs the restai-edge CLI
#      as the service's DynamicUser against /var/lib/restai-edge (see below)
#   4. creates /etc/restai-edge/restai-edge.env (mode 0640) if absent
#   5. systemctl daemon-reload (and try-restart, so an upgrade takes effect)
#   6. with --enable: systemctl enable --now restai-edge.service
#
# Why restai-edge-admin: the unit uses DynamicUser=yes, so /var/lib/restai-edge
# is a symlink into /var/lib/private (mode 0700, root) and is owned by a UID
# that only exists while a unit using it runs. Running `restai-edge provision`
# as root would leave root-owned 0600 secrets the service cannot read. The
# wrapper uses `systemd-run` with the same DynamicUser/User/StateDirectory as
# the unit, so every CLI command runs as the service's own user.
#
# Offline installs: pip honours PIP_* variables, e.g.
#   sudo PIP_NO_INDEX=1 PIP_FIND_LINKS=/media/usb/wheels provisioning/install.sh <wheel>
set -euo pipefail
umask 022 # the venv must be readable by the (unprivileged) service user

readonly PREFIX=/opt/restai-edge
readonly VENV="$PREFIX/venv"
readonly UNIT_NAME=restai-edge.service
readonly UNIT_DEST=/etc/systemd/system/$UNIT_NAME
readonly CONF_DIR=/etc/restai-edge
readonly ENV_FILE=$CONF_DIR/restai-edge.env
readonly ADMIN=/usr/local/sbin/restai-edge-admin
readonly STATE_DIR=/var/lib/restai-edge
readonly PRIVATE_STATE_DIR=/var/lib/private/restai-edge

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/.." && pwd)
UNIT_SRC=$REPO_ROOT/systemd/$UNIT_NAME
PYTHON=${PYTHON:-python3}

DRY_RUN=0
ENABLE=0
PACKAGE=""

usage() {
    cat <<EOF
Usage: $0 [--dry-run] [--enable] [PACKAGE]

PACKAGE  a wheel, an sdist or a source directory to pip-install
         (default: the checkout this script is in, $REPO_ROOT)

  --dry-run  print what would be done, change nothing (root not needed)
  --enable   also run 'systemctl enable --now $UNIT_NAME'
  -h, --help show this help

Environment: PYTHON (default python3, must be >= 3.11), PIP_* for pip.
EOF
}

die() {
    echo "install.sh: error: $*" >&2
    exit 1
}
warn() { echo "install.sh: warning: $*" >&2; }
step() { printf '\n==> %s\n' "$*"; }

# Run a command, or only show it with --dry-run.
run() {
    local cmd
    printf -v cmd '%q ' "$@"
    if ((DRY_RUN)); then
        printf '[dry-run] %s\n' "${cmd% }"
    else
        printf '+ %s\n' "${cmd% }"
        "$@"
    fi
}

# write_file MODE PATH: write stdin to PATH atomically with MODE, owned by root.
write_file() {
    local mode=$1 path=$2 content
    content=$(cat)
    if ((DRY_RUN)); then
        printf '[dry-run] write %s (mode %s):\n' "$path" "$mode"
        printf '%s\n' "$content" | sed 's/^/[dry-run]   | /'
        return
    fi
    printf '+ write %s (mode %s)\n' "$path" "$mode"
    local tmp
    tmp=$(mktemp "$path.XXXXXX")
    printf '%s\n' "$content" >"$tmp"
    chown root:root "$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$path"
}

# Problems that make a real install impossible are fatal, but only warnings
# with --dry-run so the plan can be shown on any machine (CI, laptop).
problem() {
    if ((DRY_RUN)); then warn "$* (ignored with --dry-run)"; else die "$*"; fi
}

while (($#)); do
    case $1 in
    --dry-run) DRY_RUN=1 ;;
    --enable) ENABLE=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    --)
        shift
        break
        ;;
    -*)
        usage >&2
        die "unknown option: $1"
        ;;
    *)
        [[ -z $PACKAGE ]] || die "only one PACKAGE may be given"
        PACKAGE=$1
        ;;
    esac
    shift
done
if (($#)); then
    [[ -z $PACKAGE && $# -eq 1 ]] || die "only one PACKAGE may be given"
    PACKAGE=$1
fi

# --- Preflight -----------------------------------------------------------------
if [[ -z $PACKAGE ]]; then
    [[ -f $REPO_ROOT/pyproject.toml ]] ||
        die "no PACKAGE given and $REPO_ROOT is not a source checkout"
    PACKAGE=$REPO_ROOT
fi
[[ -e $PACKAGE ]] || die "PACKAGE not found: $PACKAGE"
PACKAGE=$(cd -- "$(dirname -- "$PACKAGE")" && pwd)/$(basename -- "$PACKAGE")
case $PACKAGE in
*.whl | *.tar.gz | *.zip) [[ -f $PACKAGE ]] || die "not a file: $PACKAGE" ;;
*) [[ -d $PACKAGE ]] || die "PACKAGE must be a wheel, an sdist or a source directory: $PACKAGE" ;;
esac
[[ -f $UNIT_SRC ]] || die "unit file not found: $UNIT_SRC (run this script from a checkout)"

if ((EUID != 0)); then
    problem "must run as root (try: sudo $0 ...)"
fi
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    problem "$PYTHON not found (apt-get install python3 python3-venv)"
elif ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    problem "$PYTHON is $("$PYTHON" -V 2>&1); RestAI Edge needs Python >= 3.11"
elif ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    problem "$PYTHON cannot create virtual environments (apt-get install python3-venv)"
fi
if [[ ! -d /run/systemd/system ]]; then
    problem "systemd is not running as init on this machine"
fi
command -v systemd-run >/dev/null 2>&1 || problem "systemd-run not found (apt-get install systemd)"

((DRY_RUN)) && echo "install.sh: DRY RUN - nothing will be changed"
echo "install.sh: package: $PACKAGE"

# --- 1. Virtual environment + package ------------------------------------------
step "1/6 Python virtual environment in $VENV"
run install -d -m 0755 "$PREFIX"
if [[ -x $VENV/bin/python ]]; then
    echo "$VENV exists: upgrading in place"
else
    run "$PYTHON" -m venv "$VENV"
fi
# No --upgrade pip: the device may be offline; the bundled pip is enough.
run "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade "$PACKAGE"
if ((!DRY_RUN)); then
    [[ -x $VENV/bin/restai-edge ]] || die "$VENV/bin/restai-edge missing after pip install"
fi

# --- 2. systemd unit -----------------------------------------------------------
step "2/6 systemd unit $UNIT_DEST"
run install -m 0644 -o root -g root "$UNIT_SRC" "$UNIT_DEST"

# --- 3. Admin wrapper ----------------------------------------------------------
step "3/6 admin wrapper $ADMIN"
run install -d -m 0755 "$(dirname "$ADMIN")"
write_file 0755 "$ADMIN" <<'EOF'
#!/bin/sh
# Generated by RestAI Edge provisioning/install.sh - do not edit, re-run it.
# Runs `restai-edge ARGS...` as the DynamicUser of restai-edge.service, with
# the same state directory and environment, so files it creates in
# /var/lib/restai-edge belong to the service. Usage: sudo restai-edge-admin provision
set -eu
if [ "$(id -u)" -ne 0 ]; then
    echo "restai-edge-admin: must run as root (sudo restai-edge-admin $*)" >&2
    exit 1
fi
# A terminal for prompts and QR codes when interactive, plain pipes otherwise.
if [ -t 0 ] && [ -t 1 ]; then io=--pty; else io=--pipe; fi
# A fixed --description keeps arguments (e.g. staff PINs) out of the journal's
# "Started ..." line, which otherwise shows the whole command line.
exec systemd-run --quiet --wait --collect --service-type=exec "$io" \
    --description="restai-edge admin command" \
    --property=DynamicUser=yes \
    --property=User=restai-edge \
    --property=Group=restai-edge \
    --property=StateDirectory=restai-edge \
    --property=StateDirectoryMode=0700 \
    --property=UMask=0077 \
    --property=EnvironmentFile=-/etc/restai-edge/restai-edge.env \
    --setenv=RESTAI_EDGE_DATA_DIR=/var/lib/restai-edge \
    --setenv=PYTHONDONTWRITEBYTECODE=1 \
    --working-directory=/var/lib/restai-edge \
    /opt/restai-edge/venv/bin/restai-edge "$@"
EOF

# --- 4. Configuration ----------------------------------------------------------
step "4/6 configuration $CONF_DIR"
run install -d -m 0750 -o root -g root "$CONF_DIR"
if [[ -e $ENV_FILE ]]; then
    echo "$ENV_FILE exists: left unchanged"
else
    write_file 0640 "$ENV_FILE" <<'EOF'
# /etc/restai-edge/restai-edge.env - environment for restai-edge.service.
# Read by systemd (as root) at service start: apply changes with
#   sudo systemctl restart restai-edge
# One VAR=value per line, no quotes needed. Every setting is RESTAI_EDGE_<NAME>.
#
# Listen address/port are flags on the unit's ExecStart line, and flags win
# over variables: change them with `sudo systemctl edit restai-edge`.
# Do not set RESTAI_EDGE_DATA_DIR: the sandbox can only write /var/lib/restai-edge.
#
#RESTAI_EDGE_LOG_LEVEL=INFO
#RESTAI_EDGE_ACCESS_LOG=false
#RESTAI_EDGE_SESSION_RATE_LIMIT=5/600
#RESTAI_EDGE_SYNC_INTERVAL=15
EOF
fi

# --- 5. systemd reload ---------------------------------------------------------
step "5/6 reload systemd"
run systemctl daemon-reload
# Upgrade: restart only if it is already running (never starts it).
run systemctl try-restart "$UNIT_NAME"

# --- 6. Enable -----------------------------------------------------------------
step "6/6 enable on boot"
if ((ENABLE)); then
    provisioned=0
    if [[ -d $PRIVATE_STATE_DIR ]] && [[ -n $(ls -A "$PRIVATE_STATE_DIR" 2>/dev/null) ]]; then
        provisioned=1
    fi
    if ((provisioned || DRY_RUN)); then
        run systemctl enable --now "$UNIT_NAME"
    else
        # Starting before `provision` would only fail and restart-loop.
        run systemctl enable "$UNIT_NAME"
        echo "not started: $STATE_DIR is not provisioned yet (see next steps)"
    fi
else
    echo "skipped (pass --enable, or run the last command below)"
fi

cat <<EOF

RestAI Edge is installed$( ((DRY_RUN)) && echo " (dry run: nothing was changed)").
Next steps, as root (each admin command runs as the service user, with its
data in $STATE_DIR):

  sudo restai-edge-admin provision --branch-slug SLUG --branch-name "NAME" --tables N
  sudo restai-edge-admin staff add --name NAME --role manager --pin PIN
  sudo restai-edge-admin qr --help
  sudo systemctl enable --now $UNIT_NAME
  systemctl status $UNIT_NAME; journalctl -u $UNIT_NAME -f

Admin commands run as the service's dynamic user on a read-only OS: they can
write only under $STATE_DIR (their working directory), so give QR
output a relative path and copy it out as root: sudo cp -r $STATE_DIR/qr ~/

Settings: $ENV_FILE   Sandbox report: systemd-analyze security $UNIT_NAME
EOF
