#!/usr/bin/env bash
# Re-create book_static/site/vendor/ from the npm registry: the JavaScript the built website would
# otherwise load from CDNs (MathJax 3, RequireJS, the Jupyter widgets HTML manager), so that the
# site works offline. Only the files the pages load are kept, with each package's licence.
# Usage: bash book_static/update_vendor.sh   (needs npm; the result is committed)
set -euo pipefail
MATHJAX=3.2.2
REQUIREJS=2.3.8
HTML_MANAGER=1.0.6   # the version myst-nb's default nb_ipywidgets_js points at (ipywidgets 8)

here="$(cd "$(dirname "$0")" && pwd)"
dest="$here/site/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent "mathjax@$MATHJAX" "requirejs@$REQUIREJS" "@jupyter-widgets/html-manager@$HTML_MANAGER" >/dev/null
for f in *.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done

rm -rf "$dest" && mkdir -p "$dest"/{mathjax,requirejs,html-manager}

# MathJax: the TeX-input / CommonHTML-output component, the woff-v2 fonts it uses, and the TeX
# extensions its autoload package fetches on demand (\boldsymbol, \cancel, mathtools, ...).
mj="mathjax-$MATHJAX/package"
cp "$mj/LICENSE" "$mj/es5/tex-chtml.js" "$dest/mathjax/"
mkdir -p "$dest/mathjax/output/chtml/fonts" "$dest/mathjax/input/tex"
cp -r "$mj/es5/output/chtml/fonts/woff-v2" "$dest/mathjax/output/chtml/fonts/"
cp -r "$mj/es5/input/tex/extensions" "$dest/mathjax/input/tex/"

# RequireJS (MIT; the licence text is the header of require.js, the package ships no LICENSE file).
cp "requirejs-$REQUIREJS/package/require.js" "$dest/requirejs/"
{ sed -n '1,4p' "requirejs-$REQUIREJS/package/require.js"; cat <<'MIT'

MIT License

Copyright jQuery Foundation and other contributors, https://jquery.org/

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
MIT
} > "$dest/requirejs/LICENSE"

# Widgets HTML manager: the AMD bundle and the Font Awesome woff2 fonts its CSS refers to
# (browsers pick woff2 first; the eot/ttf/svg/woff fallbacks are left out).
hm="jupyter-widgets-html-manager-$HTML_MANAGER/package"
cp "$hm/LICENSE" "$hm/dist/embed-amd.js" "$hm/dist/embed.js.LICENSE.txt" "$hm/dist/"*.woff2 "$dest/html-manager/"

printf 'mathjax %s\nrequirejs %s\n@jupyter-widgets/html-manager %s\n' "$MATHJAX" "$REQUIREJS" "$HTML_MANAGER" > "$dest/VERSIONS"
du -sh "$dest"
