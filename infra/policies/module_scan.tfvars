# Inputs for scanning each module on its own (checkov -d modules): the tag set infra/ passes, so
# the required-tags rule judges what the modules do with it, not an empty placeholder.
tags = {
  environment         = "prod"
  owner               = "policy-scan"
  cost_centre         = "policy-scan"
  data_classification = "internal"
}

# What infra/ passes: the prod workspace builds images on its own cluster (CKV_FS_10).
image_build_compute_name = "fcst-policy-scan-build"
