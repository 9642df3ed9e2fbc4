// Package archive owns the appliance archive format of SPEC section 5: the
// archive's file name, the layout inside it, manifest.json, writing the
// gzip-compressed tar, verifying one, reading it at random or in order, and
// extracting one safely.
//
// # Format
//
// An archive is a plain .tar.gz: gunzip and tar xzf read it, and extract the
// layout of SPEC section 5. It is made of independent gzip members (RFC 1952
// allows any number; gunzip inflates them into one stream):
//
//	member                        inflates to
//	header of entry 1             the tar header blocks of entry 1 (PAX records included)
//	content of entry 1, 1..k      the entry's content, memberBytes (8 MiB) per member at most
//	header of entry 2             entry 1's padding to 512 bytes, then entry 2's header blocks
//	...
//	manifest                      the last entry's padding, manifest.json's header, content, padding
//	trailer (73 bytes)            the tar end-of-archive marker (1024 zero bytes)
//
// manifest.json (format 2) carries the index: every entry but itself in
// archive order with the compressed and inflated size of each of its
// members (Manifest.Index). The trailer is a gzip member of fixed size whose
// header carries, in an FEXTRA subfield ("Hi") guarded by FHCRC, the offset
// and size of the manifest's member. So a reader finds the trailer at the
// end of the file, the manifest from it, and from the manifest every file's
// size, sha256 and members: it knows what the archive holds, and what
// reading it will cost, before it inflates a byte of content, and can
// inflate any file on its own, several at once.
//
// Each file's content is compressed on its own (Part), by whoever produces
// it: the backup's table workers compress their tables in parallel, and the
// writer appends the members as they are. Restarting the compressor every
// 8 MiB costs nothing measurable in size.
//
// Release 0.1.0 wrote format 1: one gzip member (pgzip), manifest.json last,
// no index, no trailer. Such archives, and any archive recompressed by
// another tool, have no trailer: they are read in order (Walk,
// VerifyStream), as before. testdata/archives keeps one.
//
// # Reading
//
// Everything that reads an archive treats it as hostile: entry names must be
// clean relative paths, only regular files and directories are accepted, and
// the uncompressed size and the number of entries are bounded (Limits).
//
//   - OpenIndexed reads the trailer and the manifest, checks that the index
//     tiles the archive and is within the limits (entries, bytes), and
//     refuses before anything is inflated otherwise, naming the entry and the
//     limit. Reader.Open then reads one file: an Entry inflates its members,
//     each bounded by the size the index declares (a lying index costs no
//     more than it declares), and checks the members' CRCs, the size and the
//     sha256 when it reaches the end: io.EOF means verified. A restore can
//     stream a table into the database while it is verified, and commit it
//     only after io.EOF. Reader.CheckStructure checks the tar headers between
//     the contents; with every file read, every byte of the archive is
//     checked, and what tar extracts is what the index describes.
//   - Walk reads an archive once, in order, for sources that cannot seek
//     and for archives without an index: it enforces the limits while
//     streaming, hands each file to a callback as an Entry, and compares
//     every checksum with manifest.json when it reaches it, at the end (or
//     as each file ends, when the manifest is known first). It is the one
//     tar walk: VerifyStream and the extraction of archives without an index
//     are built on it.
//   - Verify checks an archive through its index when it has one, else by
//     VerifyStream; it reports every problem it finds. VerifyExtract verifies
//     and extracts: with an index, whatever exceeds the free space, the entry
//     limit or the free inodes is refused before a byte is written, and the
//     files are inflated and written several at once; without one, the
//     archive is verified without writing, then extracted by Walk with its
//     manifest known. Either way nothing is left behind on failure.
//
// The package imports no sibling internal package.
package archive
