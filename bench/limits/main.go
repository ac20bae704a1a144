//go:build ignore

// limits measures this machine's per-core speed of the backup pipeline's CPU stages, in Go,
// on data like the benchmark corpus, for the write-up in bench/RESULTS.md:
//
//	go run bench/limits/main.go [FILE]
//
// FILE (default: 64 MiB of generated half-random, half-text data) is read into memory
// first. Stages: gear-hash content-defined chunking (FastCDC-style boundary scan),
// SHA-256, BLAKE2b-256, zstd (SpeedFastest and SpeedDefault) compression, AES-256-GCM and
// ChaCha20-Poly1305 sealing of 1 MiB blocks. Figures are MB/s (10^6 bytes) on one core;
// the disk's limits are measured by bench/profile.sh with dd and cat.
package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"math/rand"
	"os"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20poly1305"
)

const block = 1 << 20

func data(path string) []byte {
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if len(b) > 256<<20 {
			b = b[:256<<20]
		}
		return b
	}
	r := rand.New(rand.NewSource(1))
	b := make([]byte, 64<<20)
	r.Read(b[:32<<20])
	words := []string{"the ", "static ", "int ", "struct ", "return ", "if (", "err", ");\n", "\t", "kernel ", "data", "->", "0x", "lock", "_t "}
	for i := 32 << 20; i < len(b); {
		w := words[r.Intn(len(words))]
		i += copy(b[i:], w)
	}
	return b
}

var gear [256]uint64

func init() {
	r := rand.New(rand.NewSource(42))
	for i := range gear {
		gear[i] = r.Uint64()
	}
}

// cdc returns the number of chunks of a gear-hash scan with a 1 MiB average (mask), 256 KiB
// minimum and 4 MiB maximum: the per-byte cost of finding boundaries.
func cdc(b []byte) int {
	const min, max, mask = 256 << 10, 4 << 20, (1 << 20) - 1
	n := 0
	for len(b) > 0 {
		i, h := min, uint64(0)
		if i > len(b) {
			i = len(b)
		}
		for ; i < len(b) && i < max; i++ {
			h = (h << 1) + gear[b[i]]
			if h&mask == 0 {
				break
			}
		}
		b = b[i:]
		n++
	}
	return n
}

func measure(name string, size int, f func()) {
	f() // warm up
	runs := 0
	t0 := time.Now()
	for time.Since(t0) < 2*time.Second {
		f()
		runs++
	}
	el := time.Since(t0).Seconds()
	fmt.Printf("| %s | %.0f |\n", name, float64(size*runs)/1e6/el)
}

func blocks(b []byte, f func([]byte)) {
	for i := 0; i < len(b); i += block {
		j := i + block
		if j > len(b) {
			j = len(b)
		}
		f(b[i:j])
	}
}

func main() {
	path := ""
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	b := data(path)
	src := path
	if src == "" {
		src = "64 MiB generated (half random, half text)"
	}
	fmt.Printf("Input: %s, %d bytes; one core; MB/s = 10^6 bytes/s\n\n", src, len(b))
	fmt.Println("| stage | MB/s per core |")
	fmt.Println("|---|---:|")
	measure("chunk: gear-hash CDC boundary scan (1 MiB avg)", len(b), func() { cdc(b) })
	measure("hash: SHA-256 (SHA-NI)", len(b), func() { blocks(b, func(p []byte) { sha256.Sum256(p) }) })
	measure("hash: BLAKE2b-256", len(b), func() { blocks(b, func(p []byte) { blake2b.Sum256(p) }) })
	for _, lvl := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(lvl), zstd.WithEncoderConcurrency(1))
		dst := make([]byte, 0, 2*block)
		var out int
		measure("compress: zstd "+lvl.String(), len(b), func() {
			out = 0
			blocks(b, func(p []byte) { out += len(enc.EncodeAll(p, dst[:0])) })
		})
		fmt.Printf("|   (zstd %s ratio on this input: %.2f) | |\n", lvl.String(), float64(len(b))/float64(out))
	}
	key := make([]byte, 32)
	nonce := make([]byte, 12)
	blk, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(blk)
	out := make([]byte, 0, block+64)
	measure("encrypt: AES-256-GCM (AES-NI)", len(b), func() { blocks(b, func(p []byte) { gcm.Seal(out[:0], nonce, p, nil) }) })
	cc, _ := chacha20poly1305.New(key)
	measure("encrypt: ChaCha20-Poly1305", len(b), func() { blocks(b, func(p []byte) { cc.Seal(out[:0], nonce, p, nil) }) })
}
