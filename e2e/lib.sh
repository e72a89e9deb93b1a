# Shell helpers shared by e2e/control-plane/up.sh and e2e/node/up.sh (sourced, not run).
# They read the caller's RUN (logs in $RUN/logs), PIDS (where PIDs and the start order go),
# PKI (the run's CA, $PKI/ca.{crt,key}) and CERTS (where issued certificates go).

ossl() { openssl "$@" 2>/dev/null; }

issue() { # name subject extensions: a P-256 key and a certificate signed by the run's CA
  ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$CERTS/$1.key" -out "$CERTS/$1.csr" -subj "$2"
  ossl x509 -req -in "$CERTS/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 30 -out "$CERTS/$1.crt" -extfile <(printf '%s\n' "$3")
}

start_proc() { # name command...: in the background; down.sh stops it by the saved PID
  local name="$1"
  shift
  nohup "$@" > "$RUN/logs/$name.log" 2>&1 &
  echo $! > "$PIDS/$name.pid"
  echo "$name" >> "$PIDS/order"
}

wait_for() { # description timeout-seconds command...
  local what="$1" timeout="$2" i
  shift 2
  for ((i = 0; i < timeout * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  echo "timed out after ${timeout}s waiting for $what" >&2
  return 1
}
