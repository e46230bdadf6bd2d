"""Keeping the answers right: live reload, in-chat editing with an audit trail, unanswered questions."""
