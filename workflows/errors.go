package workflows

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"daemonauth"
)

// rejectedToken returns the TokenRejected application error inside err, or
// nil when err is any other failure.
func rejectedToken(err error) *temporal.ApplicationError {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == daemonauth.ErrTypeTokenRejected {
		return appErr
	}
	return nil
}

// rejectReason returns the reason a TokenRejected error carries, or
// "unknown reason" when its details cannot be read.
func rejectReason(appErr *temporal.ApplicationError) string {
	var details daemonauth.TokenRejectedDetails
	if appErr.HasDetails() && appErr.Details(&details) == nil && details.Reason != "" {
		return details.Reason
	}
	return "unknown reason"
}

func invalidInput(workflowType string, err error) error {
	return temporal.NewNonRetryableApplicationError("invalid "+workflowType+" input: "+err.Error(), daemonauth.ErrTypeInvalidInput, nil)
}
