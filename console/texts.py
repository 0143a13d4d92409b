"""The console's own words in English and Chinese: a small table rather than gettext catalogs, because the
console's texts are few, live beside its templates, and change with them (``T("queue", "zh")``).

The language of a page is the agent's choice (the ``lang`` cookie set by the switch in the header), else
what the browser asks for (``Accept-Language``), else the bot's ``language`` setting, else English.
"""

from __future__ import annotations

LANGUAGES = ("en", "zh")

TEXTS: dict[str, tuple[str, str]] = {
    # key: (English, Chinese)
    "console": ("Support console", "客服控制台"),
    "queue": ("Queue", "排队"),
    "tickets": ("Tickets", "工单"),
    "knowledge": ("Knowledge base", "知识库"),
    "dashboard": ("Dashboard", "数据看板"),
    "users": ("Users", "用户"),
    "settings": ("Settings", "设置"),
    "audit": ("Audit log", "审计日志"),
    "logout": ("Log out", "退出"),
    "login": ("Log in", "登录"),
    "name": ("Name", "用户名"),
    "password": ("Password", "密码"),
    "bad_login": ("Wrong name or password, or the account is disabled.", "用户名或密码错误，或账号已停用。"),
    "too_many": (
        "Too many attempts. Try again in {seconds} seconds.",
        "尝试次数过多，请 {seconds} 秒后再试。",
    ),
    "waiting": ("Waiting for a person", "等待人工"),
    "with_agent": ("With an agent", "人工处理中"),
    "recent": ("Recently active (bot)", "最近活跃（机器人）"),
    "nothing_waiting": ("Nobody is waiting.", "没有人在等待。"),
    "nobody": ("None.", "无。"),
    "conversation": ("Conversation", "会话"),
    "transcript": ("Transcript", "对话记录"),
    "sources": ("The bot's last sources", "机器人最近引用的来源"),
    "no_sources": ("The bot cited no source.", "机器人没有引用来源。"),
    "take": ("Take", "接手"),
    "assign": ("Assign to", "分配给"),
    "assign_button": ("Assign", "分配"),
    "resolve": ("Resolve", "解决"),
    "close": ("Close", "关闭"),
    "reply": ("Reply to the user", "回复用户"),
    "send": ("Send", "发送"),
    "status": ("Status", "状态"),
    "assignee": ("Assignee", "负责人"),
    "reason": ("Reason", "原因"),
    "subject": ("Subject", "主题"),
    "opened": ("Opened", "创建时间"),
    "rating": ("Rating", "评分"),
    "any": ("any", "全部"),
    "filter": ("Filter", "筛选"),
    "events": ("Events", "事件"),
    "open_conversation": ("Open the conversation", "打开会话"),
    "user": ("User", "用户"),
    "bot": ("Bot", "机器人"),
    "no_desk": (
        "The support desk is not enabled ([desk] enabled = true): there is no queue to show.",
        "客服台未启用（[desk] enabled = true），没有排队可显示。",
    ),
    "documents": ("Documents", "文档"),
    "chunks": ("Chunks", "分块"),
    "upload": ("Upload files", "上传文件"),
    "files": ("Files (Markdown, text, HTML, CSV, PDF)", "文件（Markdown、文本、HTML、CSV、PDF）"),
    "delete": ("Delete", "删除"),
    "try": ("Try a question", "试问一个问题"),
    "question": ("Question", "问题"),
    "search": ("Search", "检索"),
    "answer": ("Answer", "回答"),
    "unsure": ("unsure: the bot would offer a person", "不确定：机器人会转人工"),
    "confidence": ("confidence", "置信度"),
    "passage": ("Passage", "段落"),
    "dense": ("Dense", "向量"),
    "bm25": ("BM25", "BM25"),
    "fused": ("Fused", "融合"),
    "no_kb": ("The knowledge base is not available: {why}", "知识库不可用：{why}"),
    "window": ("Window", "时间范围"),
    "days": ("{n} days", "{n} 天"),
    "one_day": ("1 day", "1 天"),
    "conversations": ("Conversations", "会话数"),
    "containment": ("Containment rate", "机器人解决率"),
    "handoff_rate": ("Handoff rate", "转人工率"),
    "handoffs": ("Handoffs", "转人工次数"),
    "first_reply": ("Time to first reply (median)", "首次人工回复时间（中位数）"),
    "resolution": ("Resolution time (median)", "解决时间（中位数）"),
    "csat": ("CSAT (mean of 1-5)", "满意度（1-5 平均）"),
    "ratings": ("ratings", "个评分"),
    "unanswered": ("Unanswered questions", "未能回答的问题"),
    "asked": ("asked", "次数"),
    "daily": ("Conversations and handoffs per day", "每日会话与转人工"),
    "csat_chart": ("Ratings", "评分分布"),
    "reasons_chart": ("Handoff reasons", "转人工原因"),
    "role": ("Role", "角色"),
    "agent": ("agent", "客服"),
    "admin": ("admin", "管理员"),
    "add_user": ("Add a user", "添加用户"),
    "add": ("Add", "添加"),
    "change_role": ("Change role", "更改角色"),
    "disable": ("Disable", "停用"),
    "enable": ("Enable", "启用"),
    "disabled": ("disabled", "已停用"),
    "active": ("active", "正常"),
    "save": ("Save", "保存"),
    "runtime_settings": ("Change at run time", "运行时修改"),
    "kb_threshold": ("Knowledge-base threshold (0 to 1)", "知识库阈值（0 到 1）"),
    "unsure_before_handoff": ("Unsure answers before a handoff", "转人工前允许的不确定回答数"),
    "all_settings": ("All settings (read only; secrets hidden)", "全部设置（只读，密钥已隐藏）"),
    "when": ("When", "时间"),
    "who": ("Who", "操作人"),
    "what": ("What", "操作"),
    "target": ("Target", "对象"),
    "detail": ("Detail", "详情"),
    "forbidden": ("Only an admin may open this page.", "只有管理员可以打开此页面。"),
    "not_found": ("Not found.", "未找到。"),
    "csrf": (
        "The form was stale or forged (no valid CSRF token). Reload the page.",
        "表单已过期或被伪造（CSRF 令牌无效），请刷新页面。",
    ),
    "done": ("Done.", "完成。"),
    "language": ("Language", "语言"),
    "live": ("Updates live", "实时更新"),
}


def pick_language(cookie: str | None, accept: str | None, configured: str | None) -> str:
    """The page's language: the agent's cookie, the browser's first known language, the bot's, or English."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag[:2] in LANGUAGES:
            return tag[:2]
    if configured and configured[:2].lower() in LANGUAGES:
        return configured[:2].lower()
    return "en"


def text(key: str, language: str, **values: object) -> str:
    """The text ``key`` in ``language`` (Chinese or English), ``{name}`` fields filled from ``values``."""
    english, chinese = TEXTS[key]
    chosen = chinese if language == "zh" else english
    return chosen.format(**values) if values else chosen
