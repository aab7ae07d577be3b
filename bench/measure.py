#!/usr/bin/env python3
"""Runs a command and prints its wall time, CPU time and peak RSS (children included) as
`key=value` pairs on the last line of stderr; the command's own output goes to a file."""
import os, subprocess, sys, time

out_path, cmd = sys.argv[1], sys.argv[2:]
with open(out_path, "wb") as out:
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
code = os.waitstatus_to_exitcode(status)
sys.stderr.write(
    f"wall={wall:.3f} cpu={ru.ru_utime + ru.ru_stime:.3f} user={ru.ru_utime:.3f} "
    f"sys={ru.ru_stime:.3f} maxrss_kb={ru.ru_maxrss} exit={code}\n"
)
sys.exit(0)
