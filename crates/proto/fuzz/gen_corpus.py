#!/usr/bin/env python3
"""Writes the hand-written and generated seeds of the fuzz corpus (deterministic).

    python3 gen_corpus.py corpus

Real server answers are captured separately by capture_dovecot.py (files `dovecot-*`).
"""
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "corpus"


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def both(name, data):
    put("framer", name, data)
    put("response", name, data)


# ---- server streams: framer and response ---------------------------------------------------

both("lying-literal-999999999", b"* 1 FETCH (UID 1 BODY[] {999999999}\r\nshort body)\r\na1 OK done\r\n")
both("lying-literal-60mb", b"* 1 FETCH (UID 1 BODY[] {60000000}\r\nFrom: x\r\n\r\nshort\r\n")
both("literal-2pow64", b"* 1 FETCH (UID 1 BODY[] {18446744073709551616}\r\nabc)\r\n* 2 EXISTS\r\n")
both("literal-u64-max", b"* 1 FETCH (BODY[] {18446744073709551615}\r\nabc)\r\n")
both("literal-u64-max-plus", b"* LIST () \"/\" {18446744073709551615+}\r\nabc\r\n")
both("literal-4g", b"* 1 FETCH (BODY[] {4294967296}\r\nabc)\r\n")
both("literal-4g-minus-1", b"* 1 FETCH (BODY[] {4294967295}\r\nabc)\r\n")
both("literal-30-digits", b"* 1 FETCH (BODY[] {999999999999999999999999999999}\r\nabc)\r\n")
both("literal-zero", b"* 1 FETCH (UID 3 BODY[] {0}\r\n)\r\na OK\r\n")
both("literal-empty-braces", b"* 1 FETCH (BODY[] {}\r\n)\r\n")
both("literal-bad-digits", b"* 1 FETCH (BODY[] {1a}\r\n{-1}\r\n{+}\r\n)\r\n")
both("literal-lf-only", b"* 1 FETCH (UID 5 BODY[] {5}\nab\ncd)\n* 2 EXISTS\n")
both("literal8", b"* 1 FETCH (UID 5 BINARY[] ~{6}\r\na\x00b\r\nc)\r\n")
both("literal-plus-in-response", b"* 1 FETCH (UID 5 BODY[] {4+}\r\nabcd)\r\n")
both("literal-streamed-twice",
     b"* 7 FETCH (UID 9 BODY[HEADER] {20}\r\nSubject: x\r\n\r\nxxxxxx BODY[] {40}\r\n"
     + b"0123456789" * 4 + b" FLAGS (\\Seen))\r\nt1 OK done\r\n")
both("literal-then-literal-header", b"* 1 FETCH (BODY[] {7}\r\nab {3}\r\n)\r\n* 2 EXISTS\r\n")
both("literal-contains-tagged", b"* 1 FETCH (BODY[] {14}\r\na1 OK fake\r\n\r\n)\r\na1 OK real\r\n")
both("unterminated-line", b"* 1 FETCH (UID 1 FLAGS (\\Seen)")
both("unterminated-after-literal", b"* 1 FETCH (BODY[] {3}\r\nabc UID 4")
both("unterminated-100k", b"* SEARCH " + b"1234567 " * 12800)
put("framer", "long-line-1mb", b"* SEARCH " + b" ".join(b"%d" % i for i in range(1, 200000))[: 1 << 20] + b"\r\na OK\r\n")
put("response", "long-line-64k", b"* SEARCH " + b" ".join(b"%d" % i for i in range(1, 20000))[: 1 << 16] + b"\r\n")
both("status-ending-in-brace", b"a1 OK done {5}\r\n* 2 EXISTS\r\n+ send {3}\r\n* NO warn {1}\r\n* BYE bye {2}\r\n")
both("garbage-after-tagged", b"a1 OK done\r\ngarbage here\r\n\x00\x01\x02\r\n* 2 EXISTS\r\na2 OK [APPENDUID 1 2] x )) ] [\r\n* 3 EXPUNGE\r\n")
both("garbage-same-line", b"a1 OK [APPENDUID 38505 3955] APPEND completed)) \"unbalanced {\r\n* 4 EXISTS\r\n")
both("empty-lines", b"\r\n\r\n\n\r\r\n* 1 EXISTS\r\n")
both("cr-only", b"* 1 EXISTS\r* 2 EXISTS\r\n")
both("nul-bytes", b"* 1 FETCH (UID 1 BODY[] {5}\r\n\x00\x00\x00\x00\x00)\r\n* LIST () \"/\" \"a\x00b\"\r\nT\x001 OK\r\n")
both("8bit", b"* LIST () \"/\" \"Caf\xc3\xa9 \xff\xfe\"\r\n* LIST () \"/\" Entw\xfcrfe\r\n* OK [ALERT] \xe2\x98\x83 \xff\r\n")
both("quoted-escapes",
     b"* LIST () \"\\\\\" \"a\\\\b \\\"c\\\"\"\r\n* STATUS \"x\\\"y\" (MESSAGES 1)\r\n"
     b"* ID (\"na\\\"me\" \"Dove\\\\cot\" \"x\" NIL)\r\n* 1 FETCH (BODY[HEADER] \"a\\\"b\")\r\n"
     b"* LIST () \"/\" \"bad\\escape\"\r\n* LIST () \"/\" \"trailing\\\r\n")
both("literals-everywhere",
     b"* LIST (\\HasNoChildren) \"/\" {11}\r\nSent \"Items\r\n"
     b"* LSUB () {1}\r\n. {9}\r\nQuote\"d\\x\r\n"
     b"* STATUS {5}\r\nINBOX (MESSAGES 3 UIDNEXT 7)\r\n"
     b"* ID ({4}\r\nname {7}\r\nDovecot)\r\n"
     b"* QUOTA {10}\r\nUser quota (STORAGE 10 1048576)\r\n"
     b"* QUOTAROOT {5}\r\nINBOX {10}\r\nUser quota\r\n"
     b"* NAMESPACE (({6}\r\nINBOX. \".\")) NIL NIL\r\n"
     b"* 1 FETCH (UID 1 ENVELOPE ({31}\r\nWed, 1 Nov 2023 17:32:10 -0800 {4}\r\nSubj ((NIL NIL {3}\r\nbob \"example.org\")) NIL NIL NIL NIL NIL NIL {5}\r\n<a@b>) FLAGS (\\Seen))\r\n"
     b"* 2 FETCH (INTERNALDATE {26}\r\n17-Jul-1996 02:44:25 -0700 UID 2)\r\n"
     b"* 3 FETCH (X-GM-LABELS ({5}\r\nlabel \"\\\\Important\") UID 3)\r\n")
both("unknown-fetch-items",
     b"* 1 FETCH (X-GM-LABELS (\"\\\\Inbox\" foo) UID 5 EMAILID (M123) X-GM-MSGID 1278455344230334865 "
     b"X-GM-THRID 1266894439832287888 THREADID (T64b478a75b7ea9d3) SAVEDATE \"17-Jul-1996 02:44:25 -0700\" "
     b"PREVIEW \"hello\" X-FOO[bar]<1> {3}\r\nabc BINARY.SIZE[1] 200 FLAGS (\\Seen $Forwarded) "
     b"MODSEQ (624140003) RFC822.SIZE 4286)\r\n"
     b"* 2 FETCH (X-UNKNOWN (a (b (c)) \"d\" NIL {2}\r\nef) UID 6 BODY[HEADER.FIELDS (MESSAGE-ID)] {21}\r\nMessage-ID: <x@y>\r\n\r\n)\r\n")
depth = 10000
both("bodystructure-10000-deep", b"* 1 FETCH (UID 1 BODYSTRUCTURE " + b"(" * depth + b"\"text\" \"plain\"" + b")" * depth + b")\r\n")
both("bodystructure-200-deep", b"* 1 FETCH (UID 1 BODYSTRUCTURE " + b"(" * 200 + b"\"text\" \"plain\" NIL" + b")" * 200 + b" FLAGS ())\r\n")
both("brackets-10000-deep", b"* 1 FETCH (BODY[" + b"[" * 10000 + b"]" * 10000 + b"] NIL)\r\n")
both("big-numbers",
     b"* 99999999999 EXISTS\r\n* 4294967296 FETCH (UID 1)\r\n* 1 FETCH (UID 4294967296 RFC822.SIZE 18446744073709551616)\r\n"
     b"* OK [UIDVALIDITY 4294967295] x\r\n* OK [HIGHESTMODSEQ 18446744073709551615] y\r\n* OK [UIDNEXT 99999999999] z\r\n"
     b"* SEARCH 1 4294967296\r\n* ESEARCH (TAG \"a\") UID COUNT 99999999999\r\n")
both("codes",
     b"a1 OK [APPENDUID 0 0] x\r\na2 OK [COPYUID 1 1:* 5] y\r\n* OK [PERMANENTFLAGS (\\* \r\n"
     b"* OK [CAPABILITY IMAP4rev1\r\n* OK [\r\n* NO [] empty\r\n* OK [UNKNOWN-CODE a b c] t\r\n"
     b"a3 NO [OVERQUOTA] Quota exceeded\r\na4 NO [LIMIT] too many\r\na5 NO [TOOBIG] big\r\n"
     b"a6 NO [INUSE] in use\r\na7 NO [UNAVAILABLE] later\r\n* NO [THROTTLED] slow down\r\n"
     b"a8 BAD Request is throttled. Suggested Backoff Time: 300 milliseconds\r\n"
     b"* BYE Too many simultaneous connections\r\n* PREAUTH [CAPABILITY IMAP4rev1] hi\r\n")
both("esearch-vanished",
     b"* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800 ALL 7,9:11 MODSEQ 5\r\n* ESEARCH\r\n* ESEARCH (TAG\r\n"
     b"* ESEARCH UID ALL 0:5\r\n* VANISHED (EARLIER) 41,43:116\r\n* VANISHED 1:*\r\n* VANISHED (EARLIER 1\r\n"
     b"* VANISHED\r\n* SEARCH 2 5 (MODSEQ 917162500)\r\n* SEARCH (MODSEQ\r\n")
both("greetings", b"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE AUTH=PLAIN] Dovecot ready.\r\n"
     b"* BYE Too many simultaneous connections\r\n* PREAUTH ready\r\n")
both("gmail-like",
     b"* 1 FETCH (X-GM-THRID 1266894439832287888 X-GM-MSGID 1266894439832287888 X-GM-LABELS (\\Inbox \\Sent Important \"Muy Importante\") UID 4 FLAGS (\\Seen))\r\n"
     b"* LIST (\\HasNoChildren \\All) \"/\" \"[Gmail]/All Mail\"\r\n"
     b"* LIST (\\Noselect \\HasChildren) \"/\" [Gmail]\r\n")
both("exchange-like",
     b"* 1 FETCH (UID 1 RFC822.SIZE 100 FLAGS ())\r\n* LIST (\\HasNoChildren) \"/\" \"Sent Items\"\r\n"
     b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n* ID NIL\r\n* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN UIDPLUS MOVE ID CHILDREN IDLE NAMESPACE LITERAL+\r\n")
both("continuations", b"+ go ahead\r\n+\r\n+ \r\n+ OK {5}\r\n+ YmFzZTY0\r\n")
both("mismatched-parens", b"* 1 FETCH (UID 1 X-A (a ] b) X-B [c ) d] FLAGS (\\Seen))\r\n* 2 FETCH ((((\r\n* 3 FETCH ))))\r\n")
both("lowercase", b"* 1 fetch (uid 1 flags (\\seen) body[header] {2}\r\nab rfc822.size 2)\r\na1 ok [appenduid 1 2] fine\r\n* list () \"/\" inbox\r\n* ok [uidvalidity 5] v\r\n")
both("binary-noise", bytes((i * 37 + 11) % 256 for i in range(600)))
both("tagged-bye", b"a1 BYE shutting down\r\nA2 WHAT is this\r\n* WHAT\r\n*\r\n* \r\n")

# ---- commands ------------------------------------------------------------------------------

cmds = {
    "login-plain": b"login\0user1\0pass1",
    "login-weird": b"login\0weird\0sp ace\"q\\b($",
    "login-8bit": b"login\0u\xc3\xa9\0p\xc3\xa4ss\xff",
    "login-empty": b"login\0\0",
    "login-nil": b"login\0NIL\0nil",
    "login-specials": b"login\0a]b\0{5}",
    "login-crlf": b"login\0line\r\nbreak\0tab\there",
    "login-controls": b"login\0\x01\x02\x7f\0\x1b[0m",
    "login-long": b"login\0" + b"u" * 300 + b"\0" + b"\"" * 300,
    "select-inbox": b"select\0INBOX",
    "select-inbox-lower-condstore": b"select\0inbox\x001",
    "select-qresync": b"select\0Sent Items\x002\x001795460429\x00715194045007\x000\x001:5,9",
    "examine-qresync-nouids": b"examine\0Drafts\x002\x007\x009\x001",
    "create-gmail": b"create\0[Gmail]/All Mail",
    "create-mutf7": b"create\0&AOk-l&AOk-ments",
    "create-utf8": b"create\0UTF8 \xc3\xa9",
    "delete-backslash": b"delete\0back\\slash",
    "subscribe-quote": b"subscribe\0INBOX.Quote\"d",
    "status-wildcards": b"status\0%*",
    "getquotaroot-bracket": b"getquotaroot\0a]b",
    "unsubscribe-del": b"unsubscribe\0x\x7fy",
    "create-nil": b"create\0nil",
    "create-empty": b"create\0",
    "create-braces": b"create\0{3}\r\nabc",
    "list-all": b"list\0\0*",
    "list-percent": b"list\0\0%",
    "list-ref": b"list\0INBOX.\0*",
    "lsub-inbox-ref": b"lsub\0inbox\0Sent*",
    "list-space": b"list\0ref\0a b*",
    "list-8bit": b"list\0\0Caf\xc3\xa9*",
    "append-full": b"append\0Sent Items\0\\Seen $Label1 bad(flag \\* \\Recent \\SEEN $MDNSent\0date\0Subject: x\r\n\r\nhello\r\n",
    "append-empty": b"append\0INBOX\0\0\0",
    "append-8bit": b"append\0Entw\xc3\xbcrfe\0$Forwarded\0\0\xff\xfe\r\n.\r\n",
    "uid-store-replace": b"uid_store\x001:5,9\x000\x000\x00\\Seen $Forwarded",
    "uid-store-star": b"uid_store\x00*\x001\x001\x00\\Deleted",
    "uid-store-bad-flags": b"uid_store\x00\x01\x02\x03\x042\x00x\x00(a) \\ \\* b]",
    "uid-fetch-all": b"uid_fetch\x001:*\x000",
    "uid-fetch-changedsince": b"uid_fetch\x002:4,7\x001\x00715194045007\x000",
    "uid-fetch-vanished": b"uid_fetch\x004294967295\x002\x009223372036854775807\x002",
    "id-pairs": b"id\0name\0imapsync\0version\x000.1\0os\0Linux \"x\"",
    "id-nil": b"id",
    "random-name": b"\x83\x92garbage\0a\0b\0c",
}
for name, data in cmds.items():
    put("roundtrip_command", name, data)

# ---- modified UTF-7 ------------------------------------------------------------------------

mutf7 = {
    "inbox": b"INBOX",
    "elements": b"&AOk-l&AOk-ments",
    "ampersand": b"&-",
    "ampersands": b"&-&-a&-",
    "entwuerfe": b"Entw&APw-rfe",
    "cjk": b"~peter/mail/&U,BTFw-/&ZeVnLIqe-",
    "surrogate-pair": b"&2D3eAA-",
    "unpaired-high": b"&2D0-",
    "unpaired-low": b"&3gA-",
    "encoded-printable": b"&AGE-",
    "adjacent-shifts": b"&AOk-&AOk-",
    "lone-ampersand": b"&",
    "unterminated": b"&AOk",
    "bad-padding": b"&AOkA-",
    "bad-base64": b"&A/k-",
    "raw-utf8": "Bilder/Ärger ☃ 😀".encode(),
    "controls": b"a\x00b\tc\x7fd",
    "invalid-utf8": b"\xff\xfe&AOk-\xc3",
    "long-run": b"&" + b"AOkA6QDp" * 100 + b"-",
}
for name, data in mutf7.items():
    put("mutf7", name, data)

# ---- sequence sets -------------------------------------------------------------------------

seqsets = {
    "common": b"1:5,7,9:*",
    "star": b"*",
    "star-range": b"*:1",
    "max": b"4294967295",
    "max-plus-one": b"4294967296",
    "zero": b"0",
    "empty-part": b"1,,2",
    "reversed": b"5:3",
    "double-colon": b"1:2:3",
    "spaces": b"1, 2",
    "signs": b"+1:-2",
    "long": b",".join(b"%d" % (i * 3) for i in range(1, 400)),
    "binary-uids": b"\x00\x10" + b"".join((i * 7 + 1).to_bytes(4, "big") for i in range(100)),
    "binary-extremes": b"\x00\x01" + b"\x00\x00\x00\x00" + b"\xff\xff\xff\xff" + b"\xff\xff\xff\xfe" + b"\x00\x00\x00\x01",
}
for name, data in seqsets.items():
    put("seqset", name, data)
