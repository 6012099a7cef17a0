"""Text keys the code builds or hands on rather than looks up where it names them.

`pybabel extract` (babel.cfg) finds keys in calls of t, tn, text and counted; the keys below
reach those calls through a variable, so `N_` marks them for extraction here.
"""


def N_(key: str) -> str:  # gettext's name for "mark, do not translate"
    """`key` itself: marks it as a text key for extraction."""
    return key


# What `<lang>.lproj/pass.strings` carries besides the to-go labels: pass.json names these
# keys as labels and values, Google's objects look them up for every language.
PASS_TEXT_KEYS = (
    *(N_("stamps_label"), N_("reward_label"), N_("news_label"), N_("notice_label")),
    *(N_("notice_none"), N_("notice_stamp_label"), N_("notice_stamp_changed")),
    *(N_("notice_bonus_label"), N_("notice_bonus_changed"), N_("notice_reward_label")),
    *(N_("notice_reward_changed"), N_("notice_news_label"), N_("notice_news_changed")),
    *(N_("notice_perk_label"), N_("notice_perk_changed"), N_("notice_latest_label")),
    *(N_("notice_birthday_label"), N_("notice_birthday_changed")),
    *(N_("notice_birthday_reward_label"), N_("notice_birthday_reward_changed")),
    *(N_("notice_redeemed"), N_("notice_undone"), N_("notice_expired"), N_("notice_voided")),
    *(N_("reward_due_label"), N_("rewards_due_label"), N_("next_reward_label")),
    *(N_("how_label"), N_("how_text"), N_("card_link_label"), N_("total_label")),
    *(N_("voided_label"), N_("description"), N_("privacy_label"), N_("privacy_text")),
    *(N_("feedback_label"), N_("page_stamps"), N_("page_to_go"), N_("page_reward_ready")),
    *(N_("add_to_apple"), N_("page_not_found"), N_("language_name"), N_("perk_label")),
    *(N_("rewards_label"), N_("stamps_expire_label"), N_("reward_expires_label")),
)

# Keys named by a code or a kind: refusals (loyalty.Refused.code), segments, stamp symbols,
# logo checks (logos.LogoRefused.reason), the to-go label's plural forms.
NAMED_KEYS = (
    *(N_("refusal_card_voided"), N_("refusal_daily_cap"), N_("refusal_no_reward_due")),
    *(N_("refusal_reward_redeemed"), N_("refusal_undo_window_passed")),
    *(N_("segment_all"), N_("segment_apple"), N_("segment_google"), N_("segment_lapsed")),
    *(N_("segment_new"), N_("segment_reward_due"), N_("segment_top")),
    *(N_("symbol_check"), N_("symbol_cup"), N_("symbol_dot"), N_("symbol_heart")),
    *(N_("symbol_paw"), N_("symbol_star")),
    *(N_("logo_empty"), N_("logo_not_image"), N_("logo_svg_unavailable"), N_("logo_svg_unsafe")),
    *(N_("logo_too_many_pixels"), N_("logo_too_narrow"), N_("logo_too_small")),
    *(N_("to_go"), N_("date_pattern"), N_("day_pattern")),
)

# Keys handed to a helper that looks them up: page messages, form fields and outcomes,
# staff.js's texts, campaign reach.
HANDED_ON_KEYS = (
    *(N_("form_expired"), N_("shop_not_found"), N_("rate_limited"), N_("too_many_tries")),
    *(N_("feedback_done"), N_("feedback_not_yet"), N_("feedback_stars_missing")),
    *(N_("feedback_thanks"), N_("feedback_too_long"), N_("badge_apple"), N_("badge_google")),
    *(N_("background_color"), N_("daily_cap"), N_("holdout_percent"), N_("messages_per_week")),
    *(N_("welcome_stamps"), N_("loyal_after_cards"), N_("loyal_after_months")),
    *(N_("loyal_bonus_stamps"), N_("stamp_expiry_days"), N_("reward_expiry_days")),
    *(N_("birthday_bonus_stamps"), N_("birthday_days_before"), N_("birthday_saved")),
    *(N_("birthday_removed"), N_("birthday_invalid")),
    *(N_("settings_saved"), N_("settings_saved_refreshed"), N_("design_saved")),
    *(N_("design_saved_refreshed"), N_("location_added"), N_("location_invalid")),
    *(N_("locations_changed"), N_("too_many_locations"), N_("logo_current_default")),
    *(N_("logo_current_own"), N_("campaign_invalid_text"), N_("card_stamps_picture")),
    *(N_("camera_unavailable"), N_("network_error"), N_("redeem"), N_("redeem_tier")),
    *(N_("redeemed"), N_("reward_due"), N_("scan_stop"), N_("signed_out"), N_("stamp_n")),
    *(N_("undone"), N_("nobody_at_limit"), N_("nobody_at_limit_one"), N_("nobody_empty")),
    *(N_("nobody_limit_hint"), N_("nobody_mixed"), N_("stamps_expire_on")),
    *(N_("reward_expires_on"),),
)

# Why a row of a paper card file cannot be imported (importing.BadRow.key), and the
# dashboard's import outcomes handed to one helper.
IMPORT_KEYS = (
    *(N_("import_not_utf8"), N_("import_unreadable"), N_("import_header"), N_("import_empty")),
    *(N_("import_too_many"), N_("import_id_missing"), N_("import_id_invalid")),
    *(N_("import_id_twice"), N_("import_stamps_missing"), N_("import_stamps_not_number")),
    *(N_("import_stamps_range"), N_("import_raced"), N_("import_no_file")),
)
