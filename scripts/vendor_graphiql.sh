#!/usr/bin/env bash
# Vendor GraphiQL and React into service/static/graphiql so /graphql works offline
# (no CDN). Pinned to the versions and SRI hashes Strawberry's own page uses; the
# files are committed, so this only runs when upgrading. Needs npm and network.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=service/static/graphiql
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# package@version  file-in-package  sha384 (same as strawberry/static/graphiql.html)
assets=(
  "react@18.2.0 umd/react.production.min.js tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8"
  "react-dom@18.2.0 umd/react-dom.production.min.js bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh"
  "graphiql@3.8.3 graphiql.min.js HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie"
  "graphiql@3.8.3 graphiql.min.css Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM"
)

mkdir -p "$dest"
for entry in "${assets[@]}"; do
  read -r package file sha <<<"$entry"
  name=${package%@*}
  if [ ! -d "$work/$name" ]; then
    (cd "$work" && npm pack --silent "$package" >/dev/null)
    mkdir -p "$work/$name"
    tar xzf "$work/${name}-${package##*@}.tgz" -C "$work/$name" --strip-components=1
  fi
  actual=$(openssl dgst -sha384 -binary "$work/$name/$file" | base64 -w0)
  if [ "$actual" != "$sha" ]; then
    echo "vendor_graphiql: $package/$file has sha384 $actual, expected $sha" >&2
    exit 1
  fi
  cp "$work/$name/$file" "$dest/$(basename "$file")"
  echo "vendored $package/$file"
done
cp "$work/graphiql/LICENSE" "$dest/LICENSE.graphiql"
cp "$work/react/LICENSE" "$dest/LICENSE.react"
