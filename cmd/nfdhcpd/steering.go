package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/nfdhcpd/nfdhcpd/binding"
	"github.com/nfdhcpd/nfdhcpd/config"
	"github.com/nfdhcpd/nfdhcpd/loader"
	"github.com/nfdhcpd/nfdhcpd/nfq"
	"github.com/nfdhcpd/nfdhcpd/responder"
)

// startSteering sets up tc steering's root part (the classifier loaded,
// our mark rules, the pin folder handed to the daemon's user) when the
// configuration asks for it, falling back from auto to iptables with the
// reason logged. It returns the mode in force. The classifier is attached
// by reconcile, after the privilege drop, once the bindings are read.
func (d *daemon) startSteering(ctx context.Context) (config.Steering, error) {
	if d.cfg.General.Steering == config.SteeringIPTables {
		return config.SteeringIPTables, nil
	}
	return d.startTC(ctx)
}

func (d *daemon) startTC(ctx context.Context) (config.Steering, error) {
	g := d.cfg.General
	d.lcfg = d.cfg.Loader()
	d.lcfg.Logger = d.log.With("part", "loader")
	l, err := loader.Open(d.lcfg)
	if err != nil {
		if g.Steering == config.SteeringAuto && errors.Is(err, loader.ErrUnsupported) {
			d.log.Warn("tc steering unavailable, using iptables steering (the administrator's rules)", "reason", err.Error())
			return config.SteeringIPTables, nil
		}
		return "", fmt.Errorf("tc steering: %w", err)
	}
	// The pinned maps and links stay for the next start to reuse (the
	// marks they set mean nothing without the rules); closing waits for a
	// Reconcile in progress, so a stop during start-up leaves that to exit.
	d.loader = l
	d.onUndo(func(ctx context.Context) { within(ctx, func() { l.Close() }) })
	// Registered before they are installed: an interrupted install may have
	// made the chain.
	lcfg := d.lcfg
	d.onUndo(func(ctx context.Context) {
		if err := loader.RemoveRules(ctx, lcfg); err != nil {
			d.logf().Warn("cannot remove netfilter rules", "err", err)
		}
	})
	if err := loader.InstallRules(ctx, d.lcfg, d.cfg.Steered()); err != nil {
		return "", fmt.Errorf("tc steering: %w", err)
	}
	// The pin folder is the daemon's: after dropping root it pins the links
	// of TAPs there, and reads those pinned before.
	if err := chownTree(g.BPFPinPath, d.acct); err != nil {
		return "", fmt.Errorf("tc steering: %w", err)
	}
	return config.SteeringTC, nil
}

// reconcile attaches the classifier to every bound TAP and removes what
// is left from TAPs no longer bound, as the daemon's user.
func (d *daemon) reconcile(ctx context.Context) error {
	var want []loader.Iface
	entries := d.store.Entries()
	for _, e := range entries {
		want = append(want, d.iface(e))
	}
	methodOf, err := d.loader.Reconcile(ctx, want)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		d.log.Warn("reconcile classifier attachments", "err", err)
	}
	methods := map[string]int{}
	d.reconciled = map[*binding.Entry]bool{}
	for i, ifc := range want {
		m := methodOf[ifc.Index]
		methods[m]++
		if m != "" {
			d.reconciled[entries[i]] = true
		}
		d.log.Debug("steering", "iface", ifc.Name, "change", "reconciled", "ifindex", ifc.Index, "attach", m)
	}
	d.log.Info("classifier attached", "taps", len(want), "tcx", methods[loader.MethodTCX], "cls_bpf", methods[loader.MethodClsBPF],
		"kernel_answers", d.lcfg.Answer.String())
	return nil
}

// upgradeSteering moves the TAPs a bulk start attached with cls_bpf to
// TCX, in the background. It runs after the privilege drop, so that every
// link pin made from here on is the daemon user's, as chownTree made the
// rest.
func (d *daemon) upgradeSteering(ctx context.Context) {
	go func() {
		if _, err := d.loader.Upgrade(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("move to tcx", "err", err)
		}
	}()
}

// steer attaches and detaches the classifier as bindings and TAPs come and
// go. Changes queued since the store started replay onto the reconciled
// state; Attach and Detach are idempotent.
func (d *daemon) steer(c binding.Change) {
	e := c.Entry
	if c.Kind == binding.Activated && d.reconciled[e] {
		// Attached by Reconcile in this very state: replaying thousands
		// of these at start would delay the first binding written
		// afterwards by seconds.
		delete(d.reconciled, e)
		return
	}
	var err error
	switch c.Kind {
	case binding.Activated, binding.Updated:
		if c.Old != nil && c.Old.TAP.Index != e.TAP.Index {
			d.loader.Detach(c.Old.TAP.Index, c.Old.TAP.Name)
		}
		err = d.loader.Attach(d.iface(e))
	case binding.Deactivated:
		err = d.loader.Detach(e.TAP.Index, e.TAP.Name)
	}
	if err != nil {
		d.log.Warn("steering", "iface", e.Binding.TAP, "change", c.Kind.String(), "err", err)
		return
	}
	d.log.Info("steering", "iface", e.Binding.TAP, "change", c.Kind.String(), "ifindex", e.TAP.Index,
		"attach", d.loader.Method(e.TAP.Index))
}

// iface is the classifier's view of a binding: which kinds to mark is the
// configuration's (the responder decides what to answer).
func (d *daemon) iface(e *binding.Entry) loader.Iface {
	k := d.cfg.Steered().Kinds()
	return loader.Iface{Index: e.TAP.Index, Name: e.TAP.Name, MAC: e.Binding.MAC, MACSpoof: e.Binding.MACSpoof, Kinds: k,
		Answers: d.answers(e, k)}
}

// answers are the replies the classifier sends itself for e's RS and NS
// (kernel_answers), built by the responder from the binding as it is
// served: the loader rewrites them with every change of the binding or of
// its TAP (its MAC, its index), and at every start, for the settings.
func (d *daemon) answers(e *binding.Entry, k loader.Kinds) loader.Answers {
	if d.lcfg.Answer&k == 0 {
		return loader.Answers{}
	}
	l := nfq.LeaseOf(e, d.settings)
	d.templatesMu.Lock()
	defer d.templatesMu.Unlock()
	if d.templates == nil {
		d.templates = responder.New(*d.settings)
	}
	t := d.templates.Templates(l)
	return loader.Answers{RA: t.RA, NA: t.NA}
}

// chownTree gives dir and everything in it to acct (a no-op for root, or
// when not root). The folder is the user's already after a first start,
// so nothing in it is followed (see chownAt).
func chownTree(dir string, acct account) error {
	if acct.uid == 0 || os.Geteuid() != 0 {
		return nil
	}
	f, _, err := openDir(dir, false)
	if err != nil {
		return err
	}
	defer f.Close()
	return chownAt(f, acct)
}
