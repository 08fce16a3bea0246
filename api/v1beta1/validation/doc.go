// Package validation holds the rules on IronLB objects that both admission
// (controllers/webhook) and the speaker apply. Each rule is written once
// here, so that what the webhook admits is exactly what the speaker
// announces, and an object that got in without the webhook (it was off, or a
// pool changed under an advertisement) is refused by the speaker for the
// same reason, in the same words, in the object's status.
//
// Like Kubernetes' own pkg/apis/*/validation packages it returns
// field.ErrorList for whole fields; the parsers underneath are exported for
// the speaker, which needs the values as well as the verdict.
package validation
