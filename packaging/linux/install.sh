#!/bin/sh
# Install Noisebloom from this unpacked tarball, for you alone (default) or for everyone (--system).
#
#   ./install.sh              app in ~/.local/opt/noisebloom, command ~/.local/bin/noisebloom,
#                             menu entry and icons under ~/.local/share
#   sudo ./install.sh --system    app in /opt/noisebloom, command /usr/local/bin/noisebloom,
#                             menu entry and icons under /usr/share
#   ./install.sh --uninstall  remove what the same kind of install put there (add --system for that one)
#
# Nothing is downloaded; nothing outside those places is touched. The app can also run without
# installing: ./noisebloom/noisebloom
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
MODE=user
ACTION=install
for arg in "$@"; do
    case "$arg" in
        --system) MODE=system ;;
        --user) MODE=user ;;
        --uninstall) ACTION=uninstall ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option $arg (use --system, --uninstall or --help)" >&2; exit 2 ;;
    esac
done

if [ "$MODE" = system ]; then
    APP_DIR=/opt/noisebloom
    BIN_DIR=/usr/local/bin
    DATA_DIR=/usr/share
else
    : "${HOME:?install.sh: HOME is not set}"
    APP_DIR="$HOME/.local/opt/noisebloom"
    BIN_DIR="$HOME/.local/bin"
    DATA_DIR="${XDG_DATA_HOME:-$HOME/.local/share}"
fi
DESKTOP_FILE="$DATA_DIR/applications/noisebloom.desktop"
ICON_ROOT="$DATA_DIR/icons/hicolor"

refresh_caches() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$DATA_DIR/applications" 2>/dev/null || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$ICON_ROOT" 2>/dev/null || true
}

if [ "$ACTION" = uninstall ]; then
    rm -rf "$APP_DIR"
    # Only our own link: a `noisebloom` that is something else (a pip install) stays.
    if [ -L "$BIN_DIR/noisebloom" ] && [ "$(readlink "$BIN_DIR/noisebloom")" = "$APP_DIR/noisebloom" ]; then
        rm -f "$BIN_DIR/noisebloom"
    fi
    rm -f "$DESKTOP_FILE"
    for icon in "$ICON_ROOT"/*/apps/noisebloom.png "$ICON_ROOT"/scalable/apps/noisebloom.svg; do
        [ -e "$icon" ] && rm -f "$icon"
    done
    refresh_caches
    echo "Noisebloom removed from $APP_DIR (your workspace of datasets and models is kept)."
    exit 0
fi

if [ "$MODE" = system ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: --system writes to /opt and /usr; run it with sudo, or install for yourself without --system" >&2
    exit 1
fi
if [ ! -x "$HERE/noisebloom/noisebloom" ]; then
    echo "install.sh: $HERE/noisebloom/noisebloom is missing; unpack the whole tarball and run install.sh from it" >&2
    exit 1
fi

# Copy the app beside its destination, then swap it in: a failed copy leaves any earlier install whole.
mkdir -p "$(dirname "$APP_DIR")" "$BIN_DIR" "$DATA_DIR/applications"
rm -rf "$APP_DIR.new" "$APP_DIR.old"
cp -R "$HERE/noisebloom" "$APP_DIR.new"
if [ -e "$APP_DIR" ]; then mv "$APP_DIR" "$APP_DIR.old"; fi
mv "$APP_DIR.new" "$APP_DIR"
rm -rf "$APP_DIR.old"

ln -sfn "$APP_DIR/noisebloom" "$BIN_DIR/noisebloom"

# The menu entry runs the installed executable by its full path (~/.local/bin may not be on the
# desktop session's PATH).
sed -e "s|^Exec=.*|Exec=$APP_DIR/noisebloom|" -e "s|^TryExec=.*|TryExec=$APP_DIR/noisebloom|" \
    "$HERE/noisebloom.desktop" > "$DESKTOP_FILE.tmp"
chmod 644 "$DESKTOP_FILE.tmp"
mv "$DESKTOP_FILE.tmp" "$DESKTOP_FILE"

for src in "$HERE"/icons/hicolor/*/apps/noisebloom.*; do
    size_dir=$(basename "$(dirname "$(dirname "$src")")")
    mkdir -p "$ICON_ROOT/$size_dir/apps"
    cp "$src" "$ICON_ROOT/$size_dir/apps/"
done
refresh_caches

echo "Noisebloom installed in $APP_DIR."
echo "Start it from your applications menu, or run: $BIN_DIR/noisebloom"
case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *) echo "($BIN_DIR is not on your PATH; add it to run plain \`noisebloom\` in a terminal.)" ;;
esac
echo "Check the install any time with: $BIN_DIR/noisebloom selftest"
