# Reads the output of `ctest -V` running GoogleTest programs (each output line of test program N is
# prefixed "N: ") and prints, by -v mode=...:
#   failures  what each failed test printed (the last 150 lines of it)
#   summary   one line per program: tests passed, skipped and failed, its result and time
#   count     the number of failures: failed tests, plus programs that failed without a failed test
#             (a crash, a timeout)
# Portable awk (mawk).

function flush_failed(prog, name,    i, n, first) {
  nfail++
  fail_prog[nfail] = prog
  fail_name[nfail] = name
  n = buf_n[prog]
  first = n > 150 ? n - 150 : 0
  fail_text[nfail] = (first > 0 ? "  | ... (" first " lines before these are in the log)\n" : "")
  for (i = first + 1; i <= n; i++) fail_text[nfail] = fail_text[nfail] "  | " buf[prog, i] "\n"
}

# "N/M Test #N: name ....   Passed   1.23 sec"
/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: / {
  line = $0
  sub(/^ *[0-9]+\/[0-9]+ Test +#/, "", line)
  prog = line; sub(/:.*/, "", prog)
  rest = line; sub(/^[0-9]+: /, "", rest)
  name = rest; sub(/[ .*].*/, "", name)
  result = rest; sub(/^[^ .*]+[ .]*/, "", result); sub(/^\*+/, "", result)
  secs = result; sub(/ +[0-9.]+ sec.*$/, "", result)
  sub(/^[^0-9]*/, "", secs); sub(/ .*/, "", secs)
  prog_name[prog] = name
  prog_result[prog] = result
  prog_secs[prog] = secs
  if (!(prog in order)) { nprog++; order[prog] = nprog; prog_at[nprog] = prog }
  if (result != "Passed" && running[prog] != "") {
    flush_failed(prog, running[prog] " (did not finish: " result ")")
    failed[prog]++
  }
  running[prog] = ""
  next
}

/^[0-9]+: / {
  prog = $0; sub(/:.*/, "", prog)
  text = $0; sub(/^[0-9]+: /, "", text)
  if (!(prog in order)) { nprog++; order[prog] = nprog; prog_at[nprog] = prog }
  if (text ~ /^\[ RUN      \] /) {
    running[prog] = substr(text, 14)
    buf_n[prog] = 0
  }
  if (running[prog] != "") {
    buf_n[prog]++
    buf[prog, buf_n[prog]] = text
  }
  if (text ~ /^\[       OK \] .* \([0-9]+ ms\)$/) { passed[prog]++; running[prog] = "" }
  else if (text ~ /^\[  SKIPPED \] .* \([0-9]+ ms\)$/) { skipped[prog]++; running[prog] = "" }
  else if (text ~ /^\[  FAILED  \] .* \([0-9]+ ms\)$/) {
    name = substr(text, 14); sub(/ \([0-9]+ ms\)$/, "", name)
    flush_failed(prog, name)
    failed[prog]++
    running[prog] = ""
  }
  next
}

END {
  bad = 0
  for (k = 1; k <= nprog; k++) {
    p = prog_at[k]
    bad += failed[p]
    if (prog_result[p] != "Passed" && failed[p] == 0) bad++
  }
  if (mode == "count") { print bad; exit }
  if (mode == "failures") {
    for (k = 1; k <= nfail; k++) {
      p = fail_prog[k]
      printf "\n--- %s: %s ---\n%s", (p in prog_name ? prog_name[p] : "test " p), fail_name[k], fail_text[k]
    }
    exit
  }
  for (k = 1; k <= nprog; k++) {
    p = prog_at[k]
    total = passed[p] + skipped[p] + failed[p]
    state = prog_result[p] == "" ? "did not finish" : prog_result[p]
    printf "%-12s %5d tests: %5d passed, %3d skipped, %3d failed  (%s, %s s)\n",
           (p in prog_name ? prog_name[p] : "test " p), total, passed[p], skipped[p], failed[p], state,
           prog_secs[p] == "" ? "?" : prog_secs[p]
  }
  if (nprog == 0) print "no test ran (see the log)"
}
