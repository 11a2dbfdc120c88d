// Package ledger is StationDesk's durable local record, ledger.db
// (synchronous=FULL, docs/storage-privacy.md): operator accounts with argon2id PIN
// hashes and persisted lock-out counters, the append-only hash-chained
// audit log, and the store-and-forward outbox whose personal fields are
// sealed with AES-256-GCM and deleted once the central backend confirms.
// It implements app.Authenticator, app.OperatorAdmin, app.AuditLog and
// app.AuditBrowser.
//
// # Data-loss window
//
// A record is durable once the call that wrote it returns (one fsync of
// the WAL per commit, if the disk honours fsync). It is replicated once
// the central backend confirms the outbox item. A process killed
// mid-transaction loses that transaction only, never part of it.
//
// # Audit chain
//
// Entry n stores hash_n = HMAC-SHA256(K_audit, len‖hash_{n-1} ‖ len‖canonical(n)),
// where canonical(n) is a fixed binary encoding of seq, time (Unix ms),
// operator, terminal, action, subject, outcome and detail, each
// length-prefixed (see canonicalEntry). The chain starts at 32 zero bytes, or
// at the MACed anchor left by a retention purge. A MACed head row records
// the newest entry so that cutting entries off the end is detected.
// Records are in the chain (schema 4, records.go): every write to sales,
// manual_checks, shifts, operators (account, role, state, PIN hash) and
// outbox (kind, key, body) is noted by a trigger, and the transaction's
// audit entry stores the SHA-256 of each record's canonical encoding in
// audit_records and covers that list in its hash; a write that audits
// nothing gets a "ledger.record" entry. Verify checks each record against
// the newest entry naming it, so an edited, deleted or forged record is
// reported with its table, key and seq.
// Triggers refuse UPDATE of any entry and DELETE of entries in front of
// the anchor, so code paths cannot rewrite history; someone with the file
// and no key can edit it, but cannot make Verify pass. Someone with the
// file and the key file can; keep the key in an OS key store in
// production (see Keys).
//
// # Retention (PIPL art. 19, 47; docs/storage-privacy.md)
//
//	table                what                                       kept
//	audit_log            audit entries (tokens, no personal data)   3 years (PIPL art. 55–56 processing records;
//	                                                                covers the 6-month log floor of the CSL art. 21)
//	outbox, confirmed    forwarded items (non-personal body)        30 days after confirmation; the sealed
//	                                                                personal payload is deleted at confirmation
//	outbox, failed       items central refused                      sealed personal payload 30 days after the
//	                                                                failure, the row 1 year (financial follow-up)
//	outbox, pending/sent not yet forwarded                          until forwarded (never purged; Stats shows age)
//	health_cache         station's last health status per document  24 hours (only used within the staleness
//	                     token (sealed)                             policy, at most hours)
//	manual_checks        manual health checks: token, masked doc,   30 days (health information: short, PIPL art. 19)
//	                     decision; what was shown sealed
//	sales                ticket sales: token, masked doc, fare      1 year after completion or voiding; incomplete
//	                                                                sales stay until resolved
//	shifts               shift open/close                           1 year after closing, while nothing refers to it
//	operators            staff accounts                             while the account exists; disabled accounts
//	                                                                stay because audit entries name their IDs
//
// Purge applies the table; call it at start and daily.
package ledger
