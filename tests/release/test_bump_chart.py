"""bump-image on Helm charts and kustomizations: which file it edits (values files, never
``templates/``), what a digest does to a tag, and where a digest may be written at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_release.cli import main
from tests.conftest import GitRemote, git

CHART_YAML = "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: '1.0'\n"
HELPERS = """\
{{- define "web.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "web.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{ .Values.image.repository }}:{{ $tag }}{{ with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    app: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  template:
    spec:
      containers:
        - name: web
          image: "{{ include "web.image" . }}"
          {{- with .Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
"""
VALUES = """\
# web chart defaults
replicaCount: 2
image:
  repository: team/web
  tag: "1.19"  # the version we run
resources: {}
"""


def add_files(checkout: Path, files: dict[str, str | bytes]) -> None:
    for name, text in files.items():
        path = checkout / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    git(checkout, "add", ".")
    git(checkout, "commit", "-q", "-m", "add app")
    git(checkout, "push", "-q", "origin", "HEAD")


def chart(prefix: str = "chart", values: str = VALUES) -> dict[str, str | bytes]:
    return {
        f"{prefix}/Chart.yaml": CHART_YAML,
        f"{prefix}/values.yaml": values,
        f"{prefix}/templates/_helpers.tpl": HELPERS,
        f"{prefix}/templates/deployment.yaml": DEPLOYMENT,
    }


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["bump-image", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def repo(git_remote: GitRemote, monkeypatch: pytest.MonkeyPatch) -> GitRemote:
    monkeypatch.chdir(git_remote.checkout)
    return git_remote


def test_a_chart_is_bumped_in_its_values_never_its_templates(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    add_files(repo.checkout, chart())
    code, out, err = run(capsys, "1.20", "--app", "chart", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["file"] == "chart/values.yaml"
    assert data["yaml_path"] == "image.tag"
    assert (data["old"], data["new"]) == ("team/web:1.19", "team/web:1.20")
    values = (repo.checkout / "chart/values.yaml").read_text()
    assert values == VALUES.replace('"1.19"', '"1.20"')
    assert (repo.checkout / "chart/templates/deployment.yaml").read_text() == DEPLOYMENT


DIGEST = "sha256:" + "ab" * 32
KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: my-image2
    newTag: my-tag
"""


def test_a_digest_only_reference_drops_the_stale_kustomize_tag(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    """``kustomize edit set image my-image2=*@sha256:...`` drops newTag: a kept tag would render
    ``my-image2:my-tag@sha256:...``, and the result would contradict itself."""
    add_files(repo.checkout, {"k/kustomization.yaml": KUSTOMIZATION})
    code, out, err = run(capsys, f"my-image2@{DIGEST}", "--app", "k", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["new"] == f"my-image2@{DIGEST}"
    assert [c["new"] for c in data["changes"]] == [f"my-image2@{DIGEST}"]
    assert (repo.checkout / "k/kustomization.yaml").read_text() == KUSTOMIZATION.replace(
        "    newTag: my-tag\n", f'    newTag: ""\n    digest: {DIGEST}\n'
    )


def test_a_digest_only_reference_drops_the_stale_helm_tag(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    values = VALUES.replace('  tag: "1.19"', '  tag: "1.19"\n  digest: ""')
    add_files(repo.checkout, chart(values=values))
    code, out, err = run(capsys, f"team/web@{DIGEST}", "--app", "chart", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["new"] == f"team/web@{DIGEST}"
    assert [c["new"] for c in data["changes"]] == [f"team/web@{DIGEST}"]
    assert (repo.checkout / "chart/values.yaml").read_text() == values.replace(
        '"1.19"', '""'
    ).replace('digest: ""', f'digest: "{DIGEST}"')


def test_digest_is_refused_where_nothing_reads_it(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    """Helm values with no digest key: a new ``digest:`` would be read by no template."""
    add_files(repo.checkout, chart())
    head = git(repo.checkout, "rev-parse", "HEAD")
    code, out, err = run(capsys, "1.20", "--app", "chart", "--digest", DIGEST, "-o", "json")
    assert code == 2, err
    message = json.loads(out)["error"]["message"] if out else err
    assert "chart/values.yaml" in message and "image" in message and "digest" in message
    assert "no digest key" in message or "no digest" in message
    assert (repo.checkout / "chart/values.yaml").read_text() == VALUES
    assert git(repo.checkout, "rev-parse", "HEAD") == head


PROD_VALUES = "# prod\nimage:\n  tag: 1.19-prod\nreplicaCount: 5\n"


def test_the_last_values_file_that_sets_the_image_is_edited(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    """Helm reads ``-f`` files in order; the prod file sets only the tag, and it decides."""
    add_files(repo.checkout, {**chart(), "envs/prod/values.yaml": PROD_VALUES})
    args = ["--values-file", "values.yaml", "--values-file", "../envs/prod/values.yaml"]
    code, out, err = run(capsys, "1.20", "--app", "chart", *args, "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["file"], data["yaml_path"]) == ("envs/prod/values.yaml", "image.tag")
    assert (data["old"], data["new"]) == ("team/web:1.19-prod", "team/web:1.20")
    assert (repo.checkout / "envs/prod/values.yaml").read_text() == PROD_VALUES.replace(
        "1.19-prod", '"1.20"'
    )
    assert (repo.checkout / "chart/values.yaml").read_text() == VALUES


SUB_VALUES = VALUES + "cache:\n  image:\n    repository: team/cache\n    tag: 7.0.1\n"


def test_two_images_in_the_values_name_the_file_and_value_path_picks_one(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    add_files(repo.checkout, chart(values=SUB_VALUES))
    head = git(repo.checkout, "rev-parse", "HEAD")
    code, _, err = run(capsys, "7.2.0", "--app", "chart")
    assert code == 2
    assert "chart/values.yaml" in err and "--value-path" in err and "cache.image" in err
    assert git(repo.checkout, "rev-parse", "HEAD") == head
    code, _, err = run(capsys, "7.2.0", "--app", "chart", "--value-path", "cache.image.tag")
    assert code == 0, err
    assert (repo.checkout / "chart/values.yaml").read_text() == SUB_VALUES.replace("7.0.1", "7.2.0")


def test_a_chart_whose_values_set_no_image_is_refused(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    add_files(repo.checkout, chart(values="replicaCount: 2\n"))
    code, _, err = run(capsys, "1.20", "--app", "chart")
    assert code == 2
    assert "chart chart: no image set in its values files (chart/values.yaml)" in err
    assert "image.repository" in err
    assert (repo.checkout / "chart/values.yaml").read_text() == "replicaCount: 2\n"


def test_an_image_hard_coded_in_the_templates_is_refused(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    files = chart(values="replicaCount: 2\n")
    files["chart/templates/deployment.yaml"] = DEPLOYMENT.replace(
        '"{{ include "web.image" . }}"', "nginx:1.25  # pinned by hand"
    )
    add_files(repo.checkout, files)
    head = git(repo.checkout, "rev-parse", "HEAD")
    code, _, err = run(capsys, "1.26", "--app", "chart")
    assert code == 2
    assert "chart/templates/deployment.yaml:13 image: nginx:1.25" in err
    assert "move it into the values" in err
    assert git(repo.checkout, "rev-parse", "HEAD") == head
    assert git(repo.checkout, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("- image: nginx:1.25", "12 image: nginx:1.25"),
        ("- name: web\n          image: 'nginx:1.25'  # by hand", "13 image: nginx:1.25"),
        ('- {name: web, image: "nginx:1.25"}', "12 image: nginx:1.25"),
        ("- {name: web, image: nginx:1.25, ports: [{containerPort: 80}]}", "12 image: nginx:1.25"),
    ],
    ids=["list item", "quoted", "flow quoted", "flow plain"],
)
def test_every_form_of_a_hard_coded_template_image_is_refused(
    repo: GitRemote, capsys: pytest.CaptureFixture[str], line: str, shown: str
) -> None:
    files = chart(values="replicaCount: 2\n")
    files["chart/templates/deployment.yaml"] = DEPLOYMENT.replace(
        '- name: web\n          image: "{{ include "web.image" . }}"', line
    )
    add_files(repo.checkout, files)
    head = git(repo.checkout, "rev-parse", "HEAD")
    code, _, err = run(capsys, "1.26", "--app", "chart")
    assert code == 2
    assert f"chart/templates/deployment.yaml:{shown}" in err
    assert "hard-coded" in err and "move it into the values" in err
    assert git(repo.checkout, "rev-parse", "HEAD") == head
    assert git(repo.checkout, "status", "--porcelain") == ""


TAG_FROM_VALUES = DEPLOYMENT.replace(
    '"{{ include "web.image" . }}"', '"nginx:{{ .Values.image.tag }}"'
)


def test_a_template_that_writes_the_repository_and_reads_the_tag_bumps_the_tag(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not template-only: the tag is in the values (``image.tag``), the repository in the
    template; the bump edits the tag and reports the image the template makes of it."""
    values = 'image:\n  tag: "1.25"\n'
    files = {**chart(values=values), "chart/templates/deployment.yaml": TAG_FROM_VALUES}
    add_files(repo.checkout, files)
    code, out, err = run(capsys, "1.26", "--app", "chart", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["file"], data["yaml_path"]) == ("chart/values.yaml", "image.tag")
    assert (data["old"], data["new"]) == ("nginx:1.25", "nginx:1.26")
    assert (repo.checkout / "chart/values.yaml").read_text() == values.replace("1.25", "1.26")


def test_a_templated_tag_that_no_values_file_sets_names_the_template_line(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        **chart(values="replicaCount: 2\n"),
        "chart/templates/deployment.yaml": TAG_FROM_VALUES,
    }
    add_files(repo.checkout, files)
    head = git(repo.checkout, "rev-parse", "HEAD")
    code, _, err = run(capsys, "1.26", "--app", "chart")
    assert code == 2
    assert (
        "chart/templates/deployment.yaml:13 writes the repository nginx and reads the tag "
        "from .Values.image.tag, which chart/values.yaml does not set" in err
    )
    assert "hard-coded" not in err
    assert "image:\n  tag:" in err or "image.tag" in err
    assert git(repo.checkout, "rev-parse", "HEAD") == head


def test_a_fully_templated_image_is_not_called_hard_coded(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    files = chart(values="replicaCount: 2\n")
    files["chart/templates/deployment.yaml"] = DEPLOYMENT.replace(
        '"{{ include "web.image" . }}"', "{{ .Values.image }}"
    )
    add_files(repo.checkout, files)
    code, _, err = run(capsys, "1.26", "--app", "chart")
    assert code == 2
    assert "no image set in its values files (chart/values.yaml)" in err
    assert "hard-coded" not in err


def test_a_templated_top_level_tag_says_to_read_it_from_an_image_mapping(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    template = TAG_FROM_VALUES.replace(".Values.image.tag", ".Values.tag")
    files = {**chart(values='tag: "1.25"\n'), "chart/templates/deployment.yaml": template}
    add_files(repo.checkout, files)
    code, _, err = run(capsys, "1.26", "--app", "chart")
    assert code == 2
    assert (
        "deployment.yaml:13 writes the repository nginx and reads the tag from .Values.tag" in err
    )
    assert "read the tag from an image mapping" in err
    assert (repo.checkout / "chart/values.yaml").read_text() == 'tag: "1.25"\n'


def packaged_subchart(values: str) -> bytes:
    """``charts/redis-1.0.0.tgz`` as ``helm package`` lays it out: one top directory."""
    import io
    import tarfile

    members = {
        "redis/Chart.yaml": "apiVersion: v2\nname: redis\nversion: 1.0.0\n",
        "redis/values.yaml": values,
        "redis/templates/deployment.yaml": DEPLOYMENT.replace(
            '"{{ include "web.image" . }}"',
            '"{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
        ).replace('include "web.fullname" .', 'printf "%s-redis" .Release.Name'),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


REDIS_DEFAULTS = "image:\n  repository: bitnami/redis\n  tag: 7.0.1\nreplicas: 1\n"


def test_a_packaged_subchart_s_defaults_name_the_image_its_tag_is_bumped_in_the_parent(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    """The parent's values set only ``redis.image.tag``: the repository is in the .tgz's own
    values.yaml, read (never written) to find the image by meaning."""
    tgz = packaged_subchart(REDIS_DEFAULTS)
    values = VALUES + "redis:\n  image:\n    tag: 7.0.1\n"
    add_files(repo.checkout, {**chart(values=values), "chart/charts/redis-1.0.0.tgz": tgz})
    args = ("--app", "chart", "--image-name", "bitnami/redis", "-o", "json")
    code, out, err = run(capsys, "7.2.0", *args)
    assert code == 0, err
    data = json.loads(out)
    assert (data["file"], data["yaml_path"]) == ("chart/values.yaml", "redis.image.tag")
    assert (data["old"], data["new"]) == ("bitnami/redis:7.0.1", "bitnami/redis:7.2.0")
    assert (repo.checkout / "chart/values.yaml").read_text() == values.replace("7.0.1", "7.2.0")
    assert (repo.checkout / "chart/charts/redis-1.0.0.tgz").read_bytes() == tgz
    code, _, err = run(capsys, "7.3.0", "--app", "chart", "--value-path", "redis.image.tag")
    assert code == 0, err
    assert (repo.checkout / "chart/values.yaml").read_text() == values.replace("7.0.1", "7.3.0")


def test_an_image_set_only_inside_a_packaged_subchart_is_refused(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    tgz = packaged_subchart(REDIS_DEFAULTS)
    add_files(repo.checkout, {**chart(), "chart/charts/redis-1.0.0.tgz": tgz})
    head = git(repo.checkout, "rev-parse", "HEAD")
    code, _, err = run(capsys, "7.2.0", "--app", "chart", "--image-name", "bitnami/redis")
    assert code == 2
    assert "chart/charts/redis-1.0.0.tgz/redis/values.yaml" in err
    assert "packaged subchart" in err and "set redis.image.tag in chart/values.yaml" in err
    assert git(repo.checkout, "rev-parse", "HEAD") == head
    assert git(repo.checkout, "status", "--porcelain") == ""
