// Package sim simulates StationDesk's serial devices — the GA 467 ID-card
// reader, the desktop transit-card reader and a QR scanner — on
// pseudo-terminals, so the real drivers run through the real devices/serial
// code in tests, benchmarks and demo mode.
//
// Each simulator owns a Line (the master side of a pty, in raw mode,
// non-blocking so deadlines work, paced to the baud rate) and can be
// scripted: place or lift a card, scan a code, send garbage or a frame with
// a bad checksum, split the next frame at a given byte, go silent, unplug
// and replug (optionally under the same symlink name).
//
// The simulated cards hold personal data of fictitious demo riders only.
package sim
