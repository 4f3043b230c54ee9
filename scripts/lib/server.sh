# What scripts/kafka.sh and scripts/keycloak.sh share about the server they run: sourced after
# they define `log`, `die`, `pid_alive`, PIDFILE, LOG and PORT.

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# await_ready NAME READY_COMMAND TIMEOUT LAUNCHED: waits until READY_COMMAND succeeds; a
# server that exits or is not ready in time fails the start (and is stopped if this start
# launched it).
await_ready() {
  local name=$1 ready=$2 timeout=$3 launched=$4 t0=$SECONDS
  until "$ready"; do
    if ! pid_alive; then
      tail -n 40 "$LOG" >&2
      die "$name exited during startup"
    fi
    if (( SECONDS - t0 >= timeout )); then
      tail -n 40 "$LOG" >&2
      if (( launched )); then stop_server "$name"; fi
      die "$name not ready on 127.0.0.1:$PORT after ${timeout}s"
    fi
    sleep 0.5
  done
  log "ready on 127.0.0.1:$PORT after $((SECONDS - t0))s (pid $(cat "$PIDFILE"))"
}

# stop_server NAME [GROUP]: SIGTERM, then SIGKILL after 30 s; GROUP=group signals the whole
# process group the pid leads (a launcher script and the JVM it started).
stop_server() {
  if ! pid_alive; then
    rm -f "$PIDFILE"
    log "not running"
    return 0
  fi
  local target _
  target=$(cat "$PIDFILE")
  if [[ ${2:-} == group ]]; then target=-$target; fi
  kill -TERM -- "$target"
  for _ in $(seq 1 60); do
    kill -0 -- "$target" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 -- "$target" 2>/dev/null; then
    log "no exit after 30s, sending SIGKILL"
    kill -KILL -- "$target" || true
  fi
  rm -f "$PIDFILE"
  log "stopped"
}

server_status() {
  if pid_alive; then
    echo "running (pid $(cat "$PIDFILE")) on 127.0.0.1:$PORT"
  else
    echo "stopped"
    return 3
  fi
}
