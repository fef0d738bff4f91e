package loader

// The classifier's Go bindings and objects are committed so that `go build`
// needs no clang; regenerate them with `go generate ./loader/` after changing
// anything under bpf/.
//go:generate go tool bpf2go -tags linux -target bpfel,bpfeb -type iface_key -type iface_value -type mark_config -type counters -type kind_counters -type iface_limit -type iface_answers -type answer_na classifier ../bpf/classifier.c -- -O2 -g -Wall -Werror -I../bpf -I/usr/include/x86_64-linux-gnu
