enum CRMClientPlaceholder {}
