"""OCI media types of model artifacts (reference §3.3–3.4)."""

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

CONFIG_V01 = "application/vnd.docker.ai.model.config.v0.1+json"
CONFIG_V02 = "application/vnd.docker.ai.model.config.v0.2+json"
CONFIG_CNCF = "application/vnd.cncf.model.config.v1+json"
SUPPORTED_CONFIGS = (CONFIG_V01, CONFIG_V02, CONFIG_CNCF)
CNCF_ARTIFACT_TYPE = "application/vnd.cncf.model.manifest.v1+json"

GGUF = "application/vnd.docker.ai.gguf.v3"
SAFETENSORS = "application/vnd.docker.ai.safetensors"
DDUF = "application/vnd.docker.ai.dduf"
LICENSE = "application/vnd.docker.ai.license"
MMPROJ = "application/vnd.docker.ai.mmproj"
CHAT_TEMPLATE = "application/vnd.docker.ai.chat.template.jinja"
MODEL_FILE = "application/vnd.docker.ai.model.file"

CNCF_WEIGHT_GGUF = "application/vnd.cncf.model.weight.v1.gguf"
CNCF_WEIGHT_SAFETENSORS = "application/vnd.cncf.model.weight.v1.safetensors"
CNCF_WEIGHT_RAW = "application/vnd.cncf.model.weight.v1.raw"
CNCF_WEIGHT_CONFIG = "application/vnd.cncf.model.weight.config.v1.raw"
CNCF_DOC = "application/vnd.cncf.model.doc.v1.raw"

ANNOTATION_FILEPATH = "org.cncf.model.filepath"
ANNOTATION_FILE_METADATA = "org.cncf.model.file.metadata+json"
ANNOTATION_MEDIATYPE_UNTESTED = "org.cncf.model.file.mediatype.untested"
