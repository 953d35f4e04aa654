"""The tests' encryption helper against a published WeChat sample vector."""
from tests import wechat_crypto

# Vector published with WeChat's message-encryption samples (as kept in
# wechatpy's tests/test_crypto.py): token 123456, appid/corpid wx49f0ab532d5d035a.
TOKEN = "123456"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
APP_ID = "wx49f0ab532d5d035a"
REPLY = """<xml>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>
<ToUserName><![CDATA[messense]]></ToUserName>
<AgentID>1</AgentID>
<CreateTime>1411525903</CreateTime>
</xml>"""
EXPECTED_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObv"
    "esEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NR"
    "rrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oaz"
    "PoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
)
EXPECTED_SIGNATURE = "407518b7649e86ef23978113f92d27afa9296533"
INBOUND_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh"
    "6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQq"
    "Gp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7F"
    "S709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)


def test_encrypt_matches_published_vector():
    encrypted = wechat_crypto.encrypt(REPLY, AES_KEY, APP_ID, random16=b"1234567890123456")
    assert encrypted == EXPECTED_ENCRYPT
    assert wechat_crypto.sha1_signature(TOKEN, "1411525903", "461056294", encrypted) == EXPECTED_SIGNATURE


def test_decrypt_published_inbound_message():
    assert wechat_crypto.sha1_signature(TOKEN, "1411525903", "461056294", INBOUND_ENCRYPT) == \
        "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
    xml, app_id = wechat_crypto.decrypt(INBOUND_ENCRYPT, AES_KEY)
    assert app_id == APP_ID
    assert "<Content><![CDATA[test]]></Content>" in xml
    assert "messense" in xml


def test_bot_decrypts_what_the_helper_encrypts():
    from bot.signing import message_crypt

    crypt = message_crypt(TOKEN, AES_KEY, APP_ID)
    assert crypt.prp_crypto.decrypt(wechat_crypto.encrypt(REPLY, AES_KEY, APP_ID), APP_ID).decode() == REPLY
