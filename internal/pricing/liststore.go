package pricing

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"spectra/internal/errs"
)

// ListStore persists price lists and their overriding versions. Implemented by
// internal/store; the store's Catalog loads every list and every workspace's assignment
// with the prices (Catalog.WithLists), and its Version moves with every write below and
// every assignment, in the write's transaction.
type ListStore interface {
	// CreatePriceList stores list l (valid, every version with its EffectiveFrom and
	// CreatedAt set) unless a list with its name exists: created true. When one exists
	// nothing is written and it is returned (created false), for the caller to tell a
	// replay from a conflict.
	CreatePriceList(ctx context.Context, l PriceList) (stored PriceList, created bool, err error)
	// AddPriceListVersion stores version p (valid) in list name. The same prices at the
	// same model and effective_from again change nothing (created false); different ones
	// are errs.Conflict price_version_exists. Errors: errs.NotFound price_list_not_found.
	AddPriceListVersion(ctx context.Context, name string, p Price) (created bool, err error)
	// PriceLists returns every list with its versions, by name.
	PriceLists(ctx context.Context) ([]PriceList, error)
	// PriceList returns list name with its versions. Errors: errs.NotFound
	// price_list_not_found.
	PriceList(ctx context.Context, name string) (PriceList, error)
	// PriceListWorkspaces returns the ids of the workspaces assigned list name, sorted.
	PriceListWorkspaces(ctx context.Context, name string) ([]string, error)
}

// ParseAdjustPercent reads a list's adjust_percent, a percentage of the catalog's prices
// with at most 2 decimals ("-15", "12.5", "0.05"), into basis points (-1500, 1250, 5).
// It must be greater than -100 and at most 1000. Errors: errs.Invalid
// invalid_adjust_percent.
func ParseAdjustPercent(s string) (int64, error) {
	bad := errs.E(errs.Invalid, "invalid_adjust_percent", "adjust_percent must be a percentage greater than -100 and at most 1000, with at most 2 decimals (such as -15 or 12.5); %q is not", s)
	neg, rest := false, s
	if r, ok := strings.CutPrefix(s, "-"); ok {
		neg, rest = true, r
	} else if r, ok := strings.CutPrefix(s, "+"); ok {
		rest = r
	}
	ip, fp, dot := strings.Cut(rest, ".")
	if ip == "" || len(ip) > 5 || len(fp) > 2 || (dot && fp == "") || !allDigits(ip) || !allDigits(fp) {
		return 0, bad
	}
	fp += strings.Repeat("0", 2-len(fp))
	var bp int64
	for _, c := range ip + fp {
		bp = bp*10 + int64(c-'0')
	}
	if neg {
		bp = -bp
	}
	if bp < MinAdjustBP || bp > MaxAdjustBP {
		return 0, bad
	}
	return bp, nil
}

// FormatAdjustPercent writes basis points as ParseAdjustPercent reads them, with no
// trailing zeros: -1500 is "-15", 1250 "12.5", 5 "0.05".
func FormatAdjustPercent(bp int64) string {
	sign := ""
	if bp < 0 {
		sign, bp = "-", -bp
	}
	s := sign + strconv.FormatInt(bp/100, 10)
	if f := bp % 100; f != 0 {
		s += strings.TrimRight("."+fmt.Sprintf("%02d", f), "0")
	}
	return s
}
