// Package archive owns the appliance archive format of SPEC section 5: the
// archive's file name, the layout inside it, manifest.json, writing the
// gzip-compressed tar, verifying one, and extracting one safely.
//
// The format is deliberately plain: a gzip stream (written in parallel blocks
// by pgzip, still a single ordinary gzip member that gunzip reads) around a
// PAX/USTAR tar. manifest.json is written last because the data files'
// checksums are only known once they have been streamed.
//
// Everything that reads an archive treats it as hostile: the uncompressed
// size and the number of entries are bounded while streaming (Limits), entry
// names must be clean relative paths, and only regular files and directories
// are accepted. Verify reports every problem it can find; Extract refuses at
// the first one and removes what it wrote.
//
// The package imports no sibling internal package.
package archive
