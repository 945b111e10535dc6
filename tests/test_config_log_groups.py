"""A log watch's index and group_by are refused at config time when the node (or the labels) could not work.

Before: an empty index was accepted (the client's path then searches every index); a field named twice, or
two fields with one label name (``a.b``, ``a_b``), made every cycle's composite aggregation fail; a field
``watch`` collided with the label sentinel adds itself.
"""

from __future__ import annotations

import pytest
import yaml

from sentinel.config import Config, ConfigError, parse_config


def load_config_text(text: str) -> Config:
    return parse_config(yaml.safe_load(text))


@pytest.mark.parametrize(("logs", "message"), [
    ('{index: "", group_by: [service.name]}', "logs.index must name an index"),
    ('{index: "  ", group_by: []}', "logs.index must name an index"),
    ('{index: x, group_by: [""]}', "a field name is empty"),
    ('{index: x, group_by: [a, a]}', "fields 'a' and 'a' both become the label 'a'"),
    ('{index: x, group_by: [a.b, a_b]}', "fields 'a.b' and 'a_b' both become the label 'a_b'"),
    ('{index: x, group_by: [watch]}', "becomes the label 'watch', which sentinel sets itself"),
])
def test_bad_log_groups_are_refused(logs: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config_text(f"elasticsearch: {{url: 'http://127.0.0.1:9200'}}\nwatches: [{{name: w, logs: {logs}}}]\n")


def test_good_log_groups_pass() -> None:
    cfg = load_config_text("elasticsearch: {url: 'http://127.0.0.1:9200'}\n"
                           "watches: [{name: w, logs: {index: agent-logs-*, group_by: [service.name, labels.tool]}}]\n")
    assert cfg.watches[0].logs is not None and cfg.watches[0].logs.group_by == ["service.name", "labels.tool"]
