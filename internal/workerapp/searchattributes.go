package workerapp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"daemonauth"
)

// SearchAttributeTypeName returns the type name that the temporal CLI's
// --search-attribute and --type flags take for key.
func SearchAttributeTypeName(key temporal.SearchAttributeKey) string {
	switch key.GetValueType() {
	case enumspb.INDEXED_VALUE_TYPE_KEYWORD:
		return "Keyword"
	case enumspb.INDEXED_VALUE_TYPE_DATETIME:
		return "Datetime"
	case enumspb.INDEXED_VALUE_TYPE_BOOL:
		return "Bool"
	default:
		return key.GetValueType().String()
	}
}

// CheckSearchAttributes fails when the namespace lacks one of the project's
// search attributes, or has it with another type. Without them every
// TokenRenewal would fail its workflow tasks on the first upsert, so the
// worker checks before it polls.
func CheckSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	response, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
	}

	var missing []string
	for _, key := range daemonauth.SearchAttributes() {
		if response.GetCustomAttributes()[key.GetName()] != key.GetValueType() {
			missing = append(missing, fmt.Sprintf("temporal operator search-attribute create --namespace %s --name %s --type %s",
				namespace, key.GetName(), SearchAttributeTypeName(key)))
		}
	}
	if len(missing) > 0 {
		return errors.New("namespace " + namespace + " lacks search attributes that TokenRenewal writes; " +
			"run `starter register-search-attributes`, or:\n  " + strings.Join(missing, "\n  "))
	}
	return nil
}

// RegisterSearchAttributes adds the project's search attributes that the
// namespace lacks.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) ([]string, error) {
	response, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
	}
	toAdd := map[string]enumspb.IndexedValueType{}
	var added []string
	for _, key := range daemonauth.SearchAttributes() {
		existing, ok := response.GetCustomAttributes()[key.GetName()]
		switch {
		case !ok:
			toAdd[key.GetName()] = key.GetValueType()
			added = append(added, key.GetName())
		case existing != key.GetValueType():
			return nil, fmt.Errorf("search attribute %s exists with type %s, not %s", key.GetName(), existing, SearchAttributeTypeName(key))
		}
	}
	if len(toAdd) == 0 {
		return nil, nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: toAdd,
	})
	if err != nil {
		return nil, fmt.Errorf("add search attributes to namespace %s: %w", namespace, err)
	}
	return added, nil
}
