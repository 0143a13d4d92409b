"""The web chat: a widget any page embeds with one script tag, served by botkit itself.

``adapter`` (:class:`WebAdapter`: the walk of a message, sending, ``send_to``), ``server`` (the Starlette
app and uvicorn), ``session`` (one widget's WebSocket: origin, identity, replay), ``protocol`` (the frames,
checked), ``identity`` (signed visitor ids and sites' signed user ids), ``conversations`` (numbered frames
kept for replay), ``outbox`` (replies as frames), ``files`` (attachments served by link) and ``assets``
(the widget's script and style and a demo page: plain files, no build step).
"""

from botkit.adapters.web.adapter import WebAdapter

__all__ = ["WebAdapter"]
