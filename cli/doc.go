// Package cli is the gatehouse command line: run, validate, token and
// version. A custom binary that registers its own guards and handlers calls
// Main from its main function, so plugins get the same commands:
//
//	func main() { os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }
package cli
