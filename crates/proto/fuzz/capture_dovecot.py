#!/usr/bin/env python3
"""Captures real server responses into the seed corpus of the `framer` and `response` targets.

Usage (against a throwaway server of the test kit, filled with its small corpus):

    imapsync-testkit serve --layout slash --state-file st.env &   # then: . ./st.env
    imapsync-testkit fill --port "$PORT" --user user1 --pass pass1 --preset small
    python3 capture_dovecot.py 127.0.0.1 "$PORT" user1 pass1 corpus

Each command's answer (untagged responses, continuation requests and the tagged status, byte
for byte) becomes `corpus/{framer,response}/dovecot-<name>`.
"""
import os
import re
import socket
import sys

LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=10)
        self.buf = b""
        self.n = 0

    def _line(self):
        while b"\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                raise EOFError("server closed")
            self.buf += data
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            data = self.s.recv(65536)
            if not data:
                raise EOFError("server closed")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self):
        """One response, literals included."""
        out = b""
        while True:
            line = self._line()
            out += line
            m = LITERAL.search(line)
            if m and not re.match(rb"^(\S+ (OK|NO|BAD|BYE|PREAUTH)|\+)", out):
                out += self._exact(int(m.group(1)))
                continue
            return out

    def run(self, text, literal=None):
        """Sends `tag text` (with an optional synchronizing literal) and returns every byte
        received until the tagged status."""
        self.n += 1
        tag = b"C%d" % self.n
        got = b""
        if literal is not None:
            self.s.sendall(tag + b" " + text + b" {%d}\r\n" % len(literal))
            r = self.response()
            got += r
            if not r.startswith(b"+"):
                return got
            self.s.sendall(literal + b"\r\n")
        else:
            self.s.sendall(tag + b" " + text + b"\r\n")
        while True:
            r = self.response()
            got += r
            if r.startswith(tag + b" "):
                return got


def main():
    host, port, user, password, out = sys.argv[1:6]
    c = Conn(host, int(port))
    captures = [("greeting", c.response())]

    def cap(name, text, literal=None):
        r = c.run(text, literal)
        captures.append((name, r))
        return r

    cap("capability", b"CAPABILITY")
    cap("login", b"LOGIN %s %s" % (user.encode(), password.encode()))
    cap("id", b'ID ("name" "fuzz-capture" "version" "1")')
    cap("namespace", b"NAMESPACE")
    cap("enable", b"ENABLE CONDSTORE")
    cap("list", b'LIST "" "*"')
    cap("list-extended", b'LIST "" "*" RETURN (SPECIAL-USE CHILDREN STATUS (MESSAGES UIDNEXT UIDVALIDITY SIZE))')
    cap("lsub", b'LSUB "" "*"')
    cap("status", b"STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE)")
    cap("getquotaroot", b"GETQUOTAROOT INBOX")
    cap("select", b"SELECT INBOX (CONDSTORE)")
    cap("uid-search", b"UID SEARCH ALL")
    cap("uid-esearch", b"UID SEARCH RETURN (ALL MIN MAX COUNT) ALL")
    sizes = cap("fetch-meta", b"UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ)")
    pairs = re.findall(rb"UID (\d+) .*?RFC822\.SIZE (\d+)", sizes)
    smallest = min(pairs, key=lambda p: int(p[1]))[0] if pairs else b"1"
    cap("fetch-headers", b"UID FETCH 1:4 (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID RECEIVED)])")
    cap("fetch-structure", b"UID FETCH 1:3 (BODYSTRUCTURE ENVELOPE)")
    cap("fetch-body", b"UID FETCH %s (UID BODY.PEEK[] RFC822.SIZE)" % smallest)
    cap("fetch-partial", b"UID FETCH %s (BODY.PEEK[]<0.100> BODY.PEEK[TEXT]<10.20>)" % smallest)
    cap("fetch-binary", b"UID FETCH %s (BINARY.PEEK[1] BINARY.SIZE[1])" % smallest)
    cap("fetch-changedsince", b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)")
    cap("append-sync", b"APPEND INBOX (\\Seen $Forwarded) \"17-Jul-1996 02:44:25 -0700\"",
        b"From: a@b\r\nSubject: fuzz\r\nMessage-ID: <fuzz@capture>\r\n\r\nbody\r\n")
    cap("store", b"UID STORE 1 +FLAGS (\\Flagged $Label1)")
    cap("examine-missing", b"EXAMINE Nonexistent")
    cap("create-existing", b"CREATE INBOX")
    cap("bad-command", b"FROBNICATE now")
    cap("noop", b"NOOP")
    cap("logout", b"LOGOUT")

    for target in ("framer", "response"):
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for name, data in captures:
            with open(os.path.join(d, "dovecot-" + name), "wb") as f:
                f.write(data)
        with open(os.path.join(d, "dovecot-session"), "wb") as f:
            f.write(b"".join(data for _, data in captures))


if __name__ == "__main__":
    main()
