// Package nfq is the packet path: it reads the NFQUEUE queues, finds the binding a
// queued packet belongs to, gives every packet a verdict, and sends the responder's
// replies out of the VM's TAP on one AF_PACKET socket.
//
// The decision for one packet (Handler.Handle) is pure apart from the binding
// lookup, so it is tested without a kernel; Reader and Sender are the thin shells
// around the sockets.
package nfq
