package main

import "github.com/secslo/secslo/sources"

// sourceRegistry returns every source adapter that secslo ships, by the type
// name used in the config file. Adapters are registered here, never in init().
func sourceRegistry() sources.Registry {
	return sources.Registry{
		// One line per adapter: "type": sources.NewSomething,
		"inventory": sources.NewInventory,
		"patches":   sources.NewPatches,

		// evidence_automation: a control register, Prowler output joined
		// with a compliance mapping, and OSCAL assessment results.
		"control_register": sources.NewControlRegister,
		"oscal_assessment": sources.NewOSCALAssessment,
		"prowler":          sources.NewProwler,

		// privilege_drift: AWS IAM authorization details and Kubernetes RBAC,
		// each checked against a baseline file and built-in high-risk rules.
		"aws_iam":         sources.NewAWSIAM,
		"kubernetes_rbac": sources.NewKubernetesRBAC,

		// Event SLIs, counted once each by the ledger.
		"incidents": sources.NewIncidents,
		"restores":  sources.NewRestores,

		"vulnerabilities": sources.NewVulnerabilities,
		"findings":        sources.NewFindings,
		"access_reviews":  sources.NewAccessReviews,
	}
}
