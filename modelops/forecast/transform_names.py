"""The target transforms' names, for the planner's fit estimate without the transforms' imports."""

TRANSFORMS = ("none", "difference", "changes", "standard", "log")
ON_CHANGES = ("difference", "changes")      # which predict a change from the latest value
STEPWISE = "changes"                        # whose step h predicts the change into its step: forecasts sum steps
