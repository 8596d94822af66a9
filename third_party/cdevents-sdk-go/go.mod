module github.com/cdevents/sdk-go

go 1.25.0

require (
	github.com/cloudevents/sdk-go/v2 v2.15.2
	github.com/google/go-cmp v0.6.0
	github.com/google/uuid v1.1.2
	github.com/package-url/packageurl-go v0.1.1
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.1
	golang.org/x/text v0.31.0
)

require (
	github.com/go-playground/locales v0.14.0 // indirect
	github.com/go-playground/universal-translator v0.18.0 // indirect
	github.com/leodido/go-urn v1.2.1 // indirect
	golang.org/x/crypto v0.45.0 // indirect
	golang.org/x/sync v0.21.0 // indirect
	golang.org/x/sys v0.46.0 // indirect
	golang.org/x/telemetry v0.0.0-20260610154732-fb80ec83bdd9 // indirect
	golang.org/x/tools v0.46.0 // indirect
)

require (
	github.com/go-playground/validator/v10 v10.11.1
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/modern-go/concurrent v0.0.0-20180306012644-bacd9c7ef1dd // indirect
	github.com/modern-go/reflect2 v1.0.2 // indirect
	go.uber.org/atomic v1.7.0 // indirect
	go.uber.org/multierr v1.6.0 // indirect
	go.uber.org/zap v1.17.0 // indirect
	golang.org/x/mod v0.37.0
	gopkg.in/yaml.v2 v2.4.0 // indirect
)
