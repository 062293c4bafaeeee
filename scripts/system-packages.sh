#!/usr/bin/env bash
# The system packages and services that `make run` and `make test` need, in one place.
#
#   scripts/system-packages.sh run    Python with venv: enough for `make run`
#   scripts/system-packages.sh test   also Chromium (browser tests), Dovecot (IMAP tests),
#                                     Tesseract with German and English (fax OCR), PostgreSQL's
#                                     client tools (backup tests), nginx and systemd-analyze
#                                     (the deployment kit's checks), and PostgreSQL and Redis
#                                     reachable on 127.0.0.1
#
# What is missing is installed with apt-get when this runs as root; otherwise the script
# prints the exact command to run and stops, so a suite never runs half-equipped.
set -euo pipefail

mode=${1:-test}
case "$mode" in
  run | test) ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

need=()
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ "$mode" = test ]; then
  # the console's browser tests drive Debian's Chromium (Playwright cannot download one)
  [ -x /usr/bin/chromium ] || need+=(chromium fonts-dejavu-core)
  # the email connector's tests run a Dovecot of their own (IMAP with IDLE)
  [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
  # the fax connector reads faxes with Tesseract, in German and English
  langs=$(tesseract --list-langs 2>/dev/null || true)
  command -v tesseract >/dev/null || need+=(tesseract-ocr)
  grep -qx deu <<<"$langs" || need+=(tesseract-ocr-deu)
  grep -qx eng <<<"$langs" || need+=(tesseract-ocr-eng)
  # `contacthub backup` and `restore` on PostgreSQL run pg_dump and pg_restore
  command -v pg_dump >/dev/null && command -v pg_restore >/dev/null || need+=(postgresql-client)
  # the deployment kit is checked with nginx -t and systemd-analyze verify (tests/test_deploy.py)
  [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  command -v systemd-analyze >/dev/null || need+=(systemd)
  command -v openssl >/dev/null || need+=(openssl)
fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing system packages: ${need[*]}" >&2
    echo "Install them, then run make $mode again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "Installing system packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

[ "$mode" = test ] || exit 0

# PostgreSQL and Redis: the test backends. Start them when they are installed but stopped.
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! up 5432 && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
fi
if ! up 6379 && command -v redis-server >/dev/null; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null || true
fi
for port_name in "5432 PostgreSQL" "6379 Redis"; do
  set -- $port_name
  up "$1" && continue
  if [ "${CI:-}" = true ]; then
    echo "$2 is not reachable on 127.0.0.1:$1, and CI=true needs it (see README, Tests)" >&2
    exit 1
  fi
  echo "note: $2 is not reachable on 127.0.0.1:$1; the tests that need it will be skipped" >&2
done
