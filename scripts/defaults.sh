# Sourced by the shell wrappers (orchestrate/bin/with-env, serve/bin/with-env, scripts/ensure-postgres):
# export the defaults of .env.example — the one file of defaults, read as src/finhouse/config.py reads it —
# for every variable the environment leaves unset or empty. ${NAME} in a default is NAME's value; a
# relative path stays relative (to the repository root, where the wrappers run their commands).
#   . "$root/scripts/defaults.sh" "$root"
fh_root="$1"
while IFS= read -r fh_line || [ -n "$fh_line" ]; do
  [[ $fh_line =~ ^([A-Z][A-Z0-9_]*)=(.+)$ ]] || continue
  fh_name=${BASH_REMATCH[1]} fh_value=${BASH_REMATCH[2]}
  [ -z "${!fh_name:-}" ] || continue
  while [[ $fh_value =~ \$\{([A-Z][A-Z0-9_]*)\} ]]; do
    fh_ref=${BASH_REMATCH[1]}
    fh_value=${fh_value//"\${$fh_ref}"/${!fh_ref:-}}
  done
  export "$fh_name=$fh_value"
done < "$fh_root/.env.example"
unset fh_root fh_line fh_name fh_value fh_ref
