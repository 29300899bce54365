"""yamledit: locate images by meaning, splice byte-exactly, refuse what is unsafe."""

from __future__ import annotations

import pytest

from gitops_release.images import parse_image
from gitops_release.yaml.edit import (
    apply_image,
    find_images,
    find_workload_refs,
    unified_diff,
)
from gitops_release.yaml.read import YamlError, load_all, read_text

ROLLOUT = """\
# the app
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: myapp
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"image":"ikubernetes/myapp:v0"}'
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: busybox:1.36   # pinned
      containers:
        - name: app
          image: ikubernetes/myapp:v1 # {"$imagepolicy": "ns:app"}

          ports: [{containerPort: 80}]
status:
  containerStatuses:
    - image: ikubernetes/myapp:v1
"""


def bump(text: str, container: str, tag: str, **kwargs: bool) -> str:
    sites = [s for s in find_images(text, source="f.yaml") if s.container == container]
    assert len(sites) == 1
    image = sites[0].image
    assert image is not None
    return apply_image(text, sites, image.with_tag(tag), source="f.yaml", **kwargs).text


def test_finds_containers_and_init_containers_but_not_status_or_annotations() -> None:
    sites = find_images(ROLLOUT, source="rollout.yaml")
    assert [(s.yaml_path, s.container, s.current, s.kind) for s in sites] == [
        ("spec.template.spec.initContainers[0].image", "init", "busybox:1.36", "Rollout"),
        ("spec.template.spec.containers[0].image", "app", "ikubernetes/myapp:v1", "Rollout"),
    ]
    assert sites[1].object_name == "myapp"
    assert sites[1].names == ("ikubernetes/myapp",)


def test_tag_bump_changes_only_the_scalar_and_keeps_the_comment() -> None:
    new = bump(ROLLOUT, "app", "v2")
    assert new == ROLLOUT.replace("image: ikubernetes/myapp:v1 #", "image: ikubernetes/myapp:v2 #")


def test_type_changing_tag_is_quoted() -> None:
    new = bump(ROLLOUT, "init", "1.20")
    assert "image: busybox:1.20   # pinned" in new  # a full reference stays a string
    values = "image:\n  repository: nginx\n  tag: latest # x\n"
    sites = find_images(values, source="values.yaml")
    result = apply_image(values, sites, parse_image("nginx:1.20"), source="values.yaml")
    assert result.text == 'image:\n  repository: nginx\n  tag: "1.20" # x\n'
    assert [(c.old, c.new) for c in result.changes] == [("nginx:latest", "nginx:1.20")]


def test_same_value_is_no_change() -> None:
    sites = find_images(ROLLOUT, source="f.yaml")
    result = apply_image(ROLLOUT, sites[1:], parse_image("ikubernetes/myapp:v1"), source="f.yaml")
    assert not result.changed and result.text == ROLLOUT


def test_bom_and_crlf_survive() -> None:
    data = b"\xef\xbb\xbfkind: Pod\r\napiVersion: v1\r\nspec:\r\n  containers:\r\n  - name: a\r\n    image: 'nginx:1' # c\r\n"
    source = read_text(data, source="pod.yaml")
    assert source.bom
    new = bump(source.text, "a", "2")
    assert source.encode(new) == data.replace(b"'nginx:1'", b"'nginx:2'")


def test_non_utf8_is_refused_with_line() -> None:
    with pytest.raises(YamlError, match=r"pod.yaml:2: not UTF-8"):
        read_text(b"a: 1\nb: \xff\n", source="pod.yaml")


def test_unparsable_yaml_names_line_and_column() -> None:
    with pytest.raises(YamlError, match=r"bad.yaml:2:\d+"):
        find_images("a: [1\nb: 2\n", source="bad.yaml")


def test_workload_ref_is_reported() -> None:
    text = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec:\n  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n"
    (ref,) = find_workload_refs(text, source="r.yaml")
    assert (ref.rollout, ref.kind, ref.name) == ("r", "Deployment", "web")


def test_diff_is_unified() -> None:
    diff = unified_diff("a: 1\n# \u2028 x\n", "a: 2\n# \u2028 x\n", "x.yaml")
    assert diff.split("\n")[:5] == [
        "--- a/x.yaml",
        "+++ b/x.yaml",
        "@@ -1,2 +1,2 @@",
        "-a: 1",
        "+a: 2",
    ]
    assert unified_diff("a: 1", "a: 2", "x.yaml").endswith("+a: 2\n\\ No newline at end of file\n")


# --- synthetic cases the corpus lacks -----------------------------------------------------


def edit_all(text: str, new: str, **kwargs: bool) -> str:
    sites = find_images(text, source="f.yaml")
    return apply_image(text, sites, parse_image(new), source="f.yaml", **kwargs).text


def test_flow_style_container_lists() -> None:
    text = (
        "kind: Deployment\napiVersion: apps/v1\nspec:\n  template:\n    spec:\n"
        "      containers: [{name: app, image: nginx:1.19}, {name: side, image: 'busybox'}]\n"
    )
    sites = find_images(text, source="d.yaml")
    assert [(s.container, s.current, s.field("image").in_flow) for s in sites] == [  # type: ignore[union-attr]
        ("app", "nginx:1.19", True),
        ("side", "busybox", True),
    ]
    new = apply_image(text, sites[:1], parse_image("nginx:1.20"), source="d.yaml").text
    assert new == text.replace("nginx:1.19", "nginx:1.20")


def test_flow_kustomize_tag_that_would_be_a_float_is_quoted() -> None:
    text = "images: [{name: app, newTag: v1}]  # pinned\n"
    (site,) = find_images(text, source="kustomization.yaml")
    assert (site.form, site.current) == ("kustomize", "app:v1")
    result = apply_image(text, [site], parse_image("app:1.20"), source="kustomization.yaml")
    assert result.text == 'images: [{name: app, newTag: "1.20"}]  # pinned\n'


def test_merge_key_image_is_shared_and_refused_unless_all_aliases() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
        "    - &base {name: a, image: nginx:1}\n"
        "    - <<: *base\n      name: b\n"
        "    - <<: *base\n      name: c\n      image: redis:7  # own image\n"
    )
    sites = find_images(text, source="pod.yaml")
    assert [(s.container, s.current, s.shared) for s in sites] == [
        ("a", "nginx:1", True),
        ("c", "redis:7", False),
    ]
    with pytest.raises(YamlError, match="anchor") as err:
        apply_image(text, sites[:1], parse_image("nginx:2"), source="pod.yaml")
    assert err.value.exit_code == 2
    both = apply_image(text, sites[:1], parse_image("nginx:2"), source="pod.yaml", all_aliases=True)
    assert both.text == text.replace("nginx:1}", "nginx:2}")
    own = apply_image(text, sites[1:], parse_image("redis:8"), source="pod.yaml")
    assert own.text == text.replace("redis:7", "redis:8")


def test_anchor_and_alias_of_an_image_value() -> None:
    text = "a:\n  image: &img nginx:1\nb:\n  image: *img\n"
    (site,) = find_images(text, source="v.yaml")  # one node, reached twice: one site
    assert site.shared and site.field("image").start == text.index("nginx")  # type: ignore[union-attr]
    with pytest.raises(YamlError, match="all-aliases"):
        apply_image(text, [site], parse_image("nginx:2"), source="v.yaml")
    assert edit_all(text, "nginx:2", all_aliases=True) == text.replace("nginx:1", "nginx:2")


def test_crlf_multi_document_with_comments_on_the_image_line() -> None:
    text = (
        "# header\r\n---\r\napiVersion: v1\r\nkind: Pod\r\nspec:\r\n  containers:\r\n"
        '  - name: a\r\n    image: "reg.example.com:5000/team/app:v1"   # {"$imagepolicy": "x"}\r\n'
        "...\r\n---\r\nkind: Service\r\napiVersion: v1\r\nspec: {ports: [{port: 80}]}"
    )
    new = edit_all(text, "reg.example.com:5000/team/app:v2")
    assert new == text.replace("app:v1", "app:v2")
    assert new.endswith("[{port: 80}]}")  # still no final newline


def test_non_ascii_and_bom_round_trip_bytes() -> None:
    text = '# Größe ✓ 中文\nimage:\n  repository: nginx # 注释\n  tag: "1.0"\n'
    data = b"\xef\xbb\xbf" + text.encode()
    source = read_text(data, source="values.yaml")
    sites = find_images(source.text, source="values.yaml")
    result = apply_image(source.text, sites, parse_image("nginx:1.1"), source="values.yaml")
    assert source.encode(result.text) == data.replace(b'"1.0"', b'"1.1"')


def test_duplicate_key_on_the_path_is_refused_elsewhere_allowed() -> None:
    dup_image = "kind: Pod\napiVersion: v1\nspec:\n  containers:\n  - name: a\n    image: x:1\n    image: x:2\n"
    (site,) = find_images(dup_image, source="p.yaml")
    assert site.problem and "duplicate key 'image'" in site.problem
    with pytest.raises(YamlError, match="duplicate key"):
        apply_image(dup_image, [site], parse_image("x:3"), source="p.yaml")
    dup_path = (
        "kind: Pod\napiVersion: v1\nspec:\n  containers:\n  - {name: a, image: x:1}\nspec: {}\n"
    )
    (site,) = find_images(dup_path, source="p.yaml")
    assert site.problem and "duplicate key 'spec'" in site.problem
    dup_elsewhere = "kind: Pod\napiVersion: v1\nmetadata: {name: a, name: b}\nspec:\n  containers:\n  - {name: a, image: x:1}\n"
    assert edit_all(dup_elsewhere, "x:2") == dup_elsewhere.replace("x:1", "x:2")


@pytest.mark.parametrize(
    "value",
    ['"${IMAGE}"', '"{{ .Values.image }}"', "'<image>'", "$REGISTRY/app:$TAG", '"repo/app:${TAG}"'],
)
def test_placeholders_are_refused(value: str) -> None:
    text = f"kind: Pod\napiVersion: v1\nspec:\n  containers:\n  - name: a\n    image: {value}\n"
    (site,) = find_images(text, source="p.yaml")
    assert site.problem and "placeholder" in site.problem
    with pytest.raises(YamlError, match="placeholder"):
        apply_image(text, [site], parse_image("x:2"), source="p.yaml")


def test_unquoted_helm_template_is_not_an_image_site() -> None:
    # `{{ .Values.image }}` unquoted is a YAML flow mapping, not a string: nothing to edit.
    text = "kind: Pod\napiVersion: v1\nspec:\n  containers:\n  - name: a\n    image: {{ .Values.image }}\n"
    assert find_images(text, source="p.yaml") == []


@pytest.mark.parametrize("tag", ["1.20", "010", "true", "yes", "1e3", "0x1F", "null", "Y", "1_000"])
def test_plain_tags_that_would_change_type_are_quoted(tag: str) -> None:
    text = "image:\n  repository: app\n  tag: v1  # chart default\n"
    sites = find_images(text, source="values.yaml")
    result = apply_image(text, sites, parse_image(f"app:{tag}"), source="values.yaml")
    assert result.text == f'image:\n  repository: app\n  tag: "{tag}"  # chart default\n'


def test_plain_string_tags_stay_plain() -> None:
    text = "image:\n  repository: app\n  tag: v1\n"
    sites = find_images(text, source="values.yaml")
    for tag in ("v2", "1.2.3", "2024-01-02-abc", "latest", "sha-1a2b3c"):
        result = apply_image(text, sites, parse_image(f"app:{tag}"), source="values.yaml")
        assert result.text == f"image:\n  repository: app\n  tag: {tag}\n"


def test_quote_styles_are_kept() -> None:
    text = "a:\n  image: 'nginx:1'\nb:\n  image: \"nginx:1\"\nc:\n  image: nginx:1\n"
    assert edit_all(text, "nginx:2") == text.replace("nginx:1", "nginx:2")


def test_digest_policy() -> None:
    digest = "sha256:" + "a" * 64
    other = "sha256:" + "b" * 64
    ref = f"kind: Pod\napiVersion: v1\nspec:\n  containers:\n  - name: a\n    image: nginx:1@{digest}\n"
    (site,) = find_images(ref, source="p.yaml")
    assert site.image is not None and site.image.digest == digest
    # a tag bump drops the stale digest (it would win at pull time) ...
    assert edit_all(ref, "nginx:2") == ref.replace(f"nginx:1@{digest}", "nginx:2")
    # ... unless a new one is given
    assert edit_all(ref, f"nginx:2@{other}") == ref.replace(f"nginx:1@{digest}", f"nginx:2@{other}")
    helm = f'image:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: "1"\n  digest: "{digest}"\n'
    (site,) = find_images(helm, source="values.yaml")
    assert site.current == f"docker.io/bitnami/nginx:1@{digest}"
    assert edit_all(helm, "docker.io/bitnami/nginx:2") == helm.replace('"1"', '"2"').replace(
        f'"{digest}"', '""'
    )
    sha = 'image:\n  repository: busybox\n  tag: "1"\n  sha: ""\n'
    assert edit_all(sha, f"busybox:2@{other}") == sha.replace('"1"', '"2"').replace(
        'sha: ""', f'sha: "{"b" * 64}"'
    )
    kust = f"images:\n- name: app\n  newTag: v1\n  digest: {digest}\n"
    assert edit_all(kust, "app:v2") == kust.replace("v1", "v2").replace(digest, '""')
    # Helm values without a digest key: no template reads one, so none is added (issue 13)
    no_digest_key = "image:\n  repository: app\n  tag: v1  # t\nnext: 1\n"
    with pytest.raises(YamlError, match="image has no digest key"):
        edit_all(no_digest_key, f"app:v2@{other}")
    # kustomize reads `digest:`: it is added
    kust_no_digest = "images:\n- name: app\n  newTag: v1  # t\nnext: 1\n"
    assert edit_all(kust_no_digest, f"app:v2@{other}") == kust_no_digest.replace(
        "v1  # t\n", f"v2  # t\n  digest: {other}\n"
    )


def test_helm_value_forms() -> None:
    text = (
        'frontend:\n  image: "ghcr.io/team/web:1.0"\n'
        "api:\n  image:\n    registry: ghcr.io\n    repository: team/api\n    tag: 1.0.0\n"
        "global:\n  hub: docker.io/istio\n  tag: 1.22.0\n  proxy:\n    image: proxyv2\n"
        "worker:\n  image:\n    name: team/worker\n    tag: latest\n"
        "traefik:\n  image:\n    registry:  # default\n    repository:\n    tag:\n"
    )
    sites = find_images(text, source="values.yaml")
    assert [(s.yaml_path, s.form, s.current) for s in sites] == [
        ("frontend.image", "reference", "ghcr.io/team/web:1.0"),
        ("api.image", "split", "ghcr.io/team/api:1.0.0"),
        ("global", "split", "docker.io/istio:1.22.0"),
        ("global.proxy.image", "reference", "proxyv2"),
        ("worker.image", "split", "team/worker:latest"),
        ("traefik.image", "split", ""),
    ]
    # a new repository under the same registry changes only the repository
    result = apply_image(
        text, [sites[1]], parse_image("ghcr.io/team/api2:1.1"), source="values.yaml"
    )
    assert result.text == text.replace("team/api\n", "team/api2\n").replace(
        "tag: 1.0.0", 'tag: "1.1"'
    )
    # empty (null) values get a value inserted after the colon; the comment stays
    result = apply_image(
        text, [sites[5]], parse_image("docker.io/traefik:v3.1"), source="values.yaml"
    )
    assert result.text.endswith(
        "registry: docker.io  # default\n    repository: traefik\n    tag: v3.1\n"
    )


def test_cronjob_and_commented_out_images() -> None:
    text = (
        "apiVersion: batch/v1\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n"
        "        spec:\n          containers:\n          - name: job\n            image: busybox:1.28\n"
        "            # image: busybox:1.27\n"
    )
    (site,) = find_images(text, source="c.yaml")
    assert site.yaml_path == "spec.jobTemplate.spec.template.spec.containers[0].image"
    assert edit_all(text, "busybox:1.29") == text.replace("busybox:1.28", "busybox:1.29")


def test_registry_port_is_not_a_tag() -> None:
    text = "kind: Pod\napiVersion: v1\nspec:\n  containers:\n  - name: a\n    image: localhost:5000/app\n"
    (site,) = find_images(text, source="p.yaml")
    assert site.image is not None and (site.image.registry, site.image.tag) == (
        "localhost:5000",
        None,
    )
    assert edit_all(text, "localhost:5000/app:v2") == text.replace("/app\n", "/app:v2\n")


def test_stale_sites_are_refused() -> None:
    sites = find_images(ROLLOUT, source="f.yaml")
    changed = "# one more line\n" + ROLLOUT
    with pytest.raises(YamlError, match="stale"):
        apply_image(changed, sites, parse_image("x:1"), source="f.yaml")


def test_utf16_is_refused() -> None:
    with pytest.raises(YamlError, match="UTF-16"):
        read_text("a: 1\n".encode("utf-16"), source="u.yaml")


def test_alias_bomb_is_bounded() -> None:
    import tracemalloc

    lines = ['a0: &a0 {image: "nginx:1"}']
    for level in range(1, 12):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    text = "\n".join(lines) + "\n"  # 10**11 leaves if expanded
    tracemalloc.start()
    sites = find_images(text, source="bomb.yaml")
    result = apply_image(text, sites, parse_image("nginx:2"), source="bomb.yaml", all_aliases=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(sites) == 1 and sites[0].shared
    assert result.text == text.replace("nginx:1", "nginx:2")
    assert peak < 20_000_000


def test_null_values_are_filled_in() -> None:
    text = "image:\n  repository: app\n  tag: ~\n  digest: null  # none\n"
    (site,) = find_images(text, source="values.yaml")
    assert site.current == "app" and site.problem is None
    digest = "sha256:" + "c" * 64
    assert edit_all(text, f"app:v2@{digest}") == text.replace("~", "v2").replace("null", digest)


def test_control_characters_are_a_yaml_error_with_position() -> None:
    with pytest.raises(YamlError, match=r"c.yaml:2:4: character U\+0000 is not allowed"):
        find_images("a: 1\nb: \x00\n", source="c.yaml")


def test_missing_keys_are_added_in_the_mapping_style() -> None:
    digest = "sha256:" + "d" * 64
    block = "images:\r\n  - name: app # the app\r\n    newTag: v1\r\n---\r\n"
    (site,) = find_images(block, source="kustomization.yaml")
    result = apply_image(
        block, [site], parse_image(f"ghcr.io/x/app:1.20@{digest}"), source="k.yaml"
    )
    assert result.text == (
        'images:\r\n  - name: app # the app\r\n    newTag: "1.20"\r\n'
        f"    newName: ghcr.io/x/app\r\n    digest: {digest}\r\n---\r\n"
    )
    flow = "images: [{name: app, newTag: v1}]"
    assert (
        edit_all(flow, f"app:v2@{digest}")
        == f"images: [{{name: app, newTag: v2, digest: {digest}}}]"
    )
    at_eof = "image:\n  repository: app"
    assert edit_all(at_eof, "app:1.0") == 'image:\n  repository: app\n  tag: "1.0"'
    nested_last = "image:\n  repository: app\n  extra:\n    a: 1\n"
    with pytest.raises(YamlError, match="cannot be added safely"):
        edit_all(nested_last, "app:v2")


def test_json_manifest_keeps_its_quoting() -> None:
    text = '{"apiVersion": "v1", "kind": "Pod",\n "spec": {"containers": [{"name": "a", "image": "nginx:1"}]}}'
    assert edit_all(text, "nginx:1.20") == text.replace('"nginx:1"', '"nginx:1.20"')


def test_directives_document_markers_and_cross_entry_aliases() -> None:
    text = (
        "%YAML 1.1\n--- # values\ncommon: &tag v1\nimage:\n  repository: app\n  tag: *tag\n"
        "other:\n  image:\n    repository: other\n    tag: v1 # own\n...\n# trailing comment\n"
    )
    sites = find_images(text, source="values.yaml")
    assert [(s.yaml_path, s.current, s.shared) for s in sites] == [
        ("image", "app:v1", True),
        ("other.image", "other:v1", False),
    ]
    result = apply_image(text, sites[1:], parse_image("other:v2"), source="values.yaml")
    assert result.text == text.replace("v1 # own", "v2 # own")
    result = apply_image(
        text, sites[:1], parse_image("app:v2"), source="values.yaml", all_aliases=True
    )
    assert result.text == text.replace("&tag v1", "&tag v2")


def test_two_sites_with_one_target_in_one_call() -> None:
    text = (
        "kind: Deployment\napiVersion: apps/v1\nspec:\n  template:\n    spec:\n      containers:\n"
        "      - {name: a, image: ghcr.io/t/app:v1}\n      - {name: b, image: ghcr.io/t/app:v1}\n"
    )
    sites = find_images(text, source="d.yaml")
    result = apply_image(text, sites, parse_image("ghcr.io/t/app:v2"), source="d.yaml")
    assert result.text == text.replace(":v1}", ":v2}")
    assert [(c.site.container, c.old, c.new) for c in result.changes] == [
        ("a", "ghcr.io/t/app:v1", "ghcr.io/t/app:v2"),
        ("b", "ghcr.io/t/app:v1", "ghcr.io/t/app:v2"),
    ]
    assert [e.path for c in result.changes for e in c.edits] == [
        "spec.template.spec.containers[0].image",
        "spec.template.spec.containers[1].image",
    ]


def test_repeated_edits_leave_no_residue() -> None:
    # Pain point 8: after 70 write-backs a values file had 75 blank lines. Here: 60 bumps and
    # back, and the file is byte-identical; a key added once is added once.
    data = (
        b"\xef\xbb\xbf# values \xe2\x9c\x93\r\n\r\nimage:  # the app\r\n  repository: ghcr.io/t/app\r\n"
        b'  tag: \'v0\'   # {"$imagepolicy": "ns:app:tag"}\r\n\r\n\r\nservice: {port: 80}'
    )
    source = read_text(data, source="values.yaml")
    text = source.text
    for number in [*range(1, 61), 0]:
        sites = find_images(text, source="values.yaml")
        text = apply_image(
            text, sites, parse_image(f"ghcr.io/t/app:v{number}"), source="values.yaml"
        ).text
    assert source.encode(text) == data
    kust = "images:\r\n- name: app\r\n  newTag: v0\r\nother: 1\r\n"
    text = kust
    digest = "sha256:" + "e" * 64
    for number in range(5):
        sites = find_images(text, source="kustomization.yaml")
        text = apply_image(
            text, sites, parse_image(f"app:v{number}@{digest}"), source="kustomization.yaml"
        ).text
    assert text.count("digest:") == 1 and text.count("\r\n") == kust.count("\r\n") + 1


def test_old_mac_line_endings_are_kept_when_a_key_is_added() -> None:
    text = "image:\r  repository: app\r  pullPolicy: Always\rother: 1\r"
    assert (
        edit_all(text, "app:v2")
        == "image:\r  repository: app\r  pullPolicy: Always\r  tag: v2\rother: 1\r"
    )


def test_explicit_key_without_value_is_a_yaml_error() -> None:
    with pytest.raises(YamlError, match="has no value"):
        find_images("image:\n  repository: app\n  ? tag\n", source="v.yaml")
    text = "image:\n  repository: app\n  ? tag\n  :\n"
    assert edit_all(text, "app:v2") == "image:\n  repository: app\n  ? tag\n  : v2\n"


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000 + "]" * 5000,
        "a:\n" + "".join("  " * i + "b:\n" for i in range(1, 400)),
        "- " * 3000 + "x",
    ],
)
def test_deep_nesting_is_a_yaml_error(text: str) -> None:
    with pytest.raises(YamlError, match="nested too deeply"):
        find_images(text, source="deep.yaml")
    try:
        load_all(text, source="deep.yaml")  # 400 levels still load; deeper is a YamlError
    except YamlError as err:
        assert "nested too deeply" in err.message


def test_braceless_flow_pair_takes_no_new_key() -> None:
    text = "kind: Kustomization\nimages: [name: app, {name: other, newTag: v1}]\n"
    sites = find_images(text, source="k.yaml")
    assert [s.current for s in sites] == ["app", "other:v1"]
    with pytest.raises(YamlError, match="cannot be added safely"):
        apply_image(text, sites[:1], parse_image("app:v2"), source="k.yaml")
    assert edit_all(text.replace("name: app, ", ""), "other:v2") == text.replace(
        "name: app, ", ""
    ).replace("v1", "v2")
