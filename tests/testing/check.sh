# Checks for the shell tests; source it. fail MESSAGE: prints FAIL and exits 1.
# expect_in TEXT NEEDLE WHAT: fails unless TEXT contains NEEDLE.
fail() {
  echo "FAIL: $*"
  exit 1
}
expect_in() {
  case "$1" in *"$2"*) ;; *) fail "$3: expected '$2' in: $1" ;; esac
}
