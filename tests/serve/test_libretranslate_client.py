"""LibreTranslate's own Python client (`libretranslatepy`, unchanged) against our server."""

from __future__ import annotations

from urllib.error import HTTPError

import pytest

from conftest import make_app, running_server
from seq2seq.serve.keys import ApiKeys

libretranslatepy = pytest.importorskip("libretranslatepy")


def test_the_libretranslate_client_translates_through_our_server(server_url, translator):
    client = libretranslatepy.LibreTranslateAPI(server_url)
    assert client.languages() == [
        {"code": "en", "name": "English", "targets": ["fr"]},
        {"code": "fr", "name": "French", "targets": []},
    ]
    for sentence in ["w1 w2 w3", "w9 w8 w7 w6 w5", "w12"]:
        translated = client.translate(sentence, source="en", target="fr")
        assert translated == translator.translate([sentence])[0]
    assert client.translate("w4 w5", source="auto", target="fr") == "w4 w5"
    with pytest.raises(HTTPError) as refused:
        client.translate("w1", source="de", target="fr")
    assert refused.value.code == 400


def test_the_client_with_an_api_key(translator):
    keys = ApiKeys(["client-key-0001"])
    with running_server(make_app(translator, keys=keys)) as url:
        with pytest.raises(HTTPError) as refused:
            libretranslatepy.LibreTranslateAPI(url).translate("w1", "en", "fr")
        assert refused.value.code == 403
        client = libretranslatepy.LibreTranslateAPI(url, api_key="client-key-0001")
        assert client.translate("w1 w2", "en", "fr") == "w1 w2"
        assert client.languages()[0]["code"] == "en"
