"""A workspace with an admin, a dataset version and a (fake, tiny) model version, for the backup tests."""

from __future__ import annotations

import json
import struct
from pathlib import Path

ADMIN, PASSWORD, PASSPHRASE = "alice", "alice-password-1", "correct horse battery staple"


def fake_model(folder: Path) -> Path:
    """A model folder the store accepts (config, one safetensors tensor, tokenizer files); nothing built."""
    folder.mkdir(parents=True)
    config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 8, "vocab_size": 4}
    (folder / "config.json").write_text(json.dumps(config))
    header = json.dumps(
        {"embed.weight": {"dtype": "F32", "shape": [4, 8], "data_offsets": [0, 128]}}
    ).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(range(128)))
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    (folder / "tokenizer.json").write_text("{}")
    return folder


def secret_files(tmp_path: Path) -> tuple[Path, Path]:
    """(password file, passphrase file), 0600, for --password-file and --passphrase-file."""
    password, passphrase = tmp_path / "password.txt", tmp_path / "passphrase.txt"
    password.write_text(PASSWORD + "\n")
    passphrase.write_text(PASSPHRASE + "\n")
    password.chmod(0o600)
    passphrase.chmod(0o600)
    return password, passphrase


def populated_workspace(tmp_path: Path, root: Path | None = None) -> Path:
    """Initialise ``root`` (default tmp_path/ws) with ADMIN logged in, one dataset and one model version."""
    from stockade.models.store.service import import_model
    from stockade.workspace.service import initialize_workspace, open_workspace
    from tests.models.store_setup import import_dataset

    root = root or tmp_path / "ws"
    initialize_workspace(root, admin_name=ADMIN, admin_password=PASSWORD)
    with open_workspace(root) as context:
        import_dataset(context, tmp_path, "loans", rows=4)
        import_model(context, fake_model(tmp_path / "fake-model"), "fake")
        context.privacy_key()  # pki/privacy-hmac.key: a secret the backup must seal
    (root / "models" / "safety-policy.yaml").write_text("allow_pickle_weights: false\n")
    return root
