"""The wall's words, Vietnamese first (with its diacritics), English one setting away.

Every text an operator reads goes through `Translator`, so a missing translation is a KeyError in
the tests, never a half-English screen.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("vi", "en")

TEXT: dict[str, tuple[str, str]] = {
    "ioc": ("Trung tâm điều hành thông minh", "Intelligent Operations Center"),
    # Screens
    "screen.overview": ("Tổng quan", "Overview"),
    "screen.cameras": ("Camera giám sát", "Cameras"),
    "screen.wifi": ("WiFi công cộng", "Public WiFi"),
    "screen.reports": ("Phản ánh hiện trường", "Field reports"),
    "screen.indicators": ("Chỉ số điều hành", "Operating indicators"),
    "screen.alerts": ("Cảnh báo", "Alerts"),
    "screen.accountability": ("Trách nhiệm và sức khỏe dữ liệu", "Accountability and data health"),
    # States
    "status.online": ("Trực tuyến", "Online"),
    "status.offline": ("Mất kết nối", "Offline"),
    "status.nodata": ("Không có dữ liệu", "No data"),
    "status.stale": ("Dữ liệu cũ", "Stale"),
    "status.met": ("Đạt", "Met"),
    "status.at_risk": ("Nguy cơ", "At risk"),
    "status.on_track": ("Đúng hướng", "On track"),
    "status.missed": ("Không đạt", "Missed"),
    "status.no_target": ("Chưa có chỉ tiêu", "No target"),
    "status.unreported": ("Chưa báo cáo", "Not reported"),
    "status.up": ("Hoạt động", "Up"),
    "status.down": ("Ngừng", "Down"),
    "status.live": ("Trực tiếp", "Live"),
    "status.loading": ("Đang tải dữ liệu…", "Loading data…"),
    "reconnecting": ("Đang kết nối lại…", "Reconnecting…"),
    "store_unavailable": (
        "Không truy cập được kho dữ liệu – đang thử lại",
        "Data store unreachable – retrying",
    ),
    "no_data": ("Không có dữ liệu", "No data"),
    "updated": ("cập nhật {age} trước", "updated {age} ago"),
    "stale_since": ("DỮ LIỆU CŨ · {age} trước", "STALE · {age} ago"),
    "never": ("chưa có dữ liệu", "no data yet"),
    "age.s": ("{n} giây", "{n} s"),
    "age.m": ("{n} phút", "{n} min"),
    "age.h": ("{n} giờ", "{n} h"),
    "age.d": ("{n} ngày", "{n} d"),
    "age.dh": ("{d} ngày {h} giờ", "{d} d {h} h"),
    # Overview
    "ov.cameras": ("Camera trực tuyến", "Cameras online"),
    "ov.wifi_up": ("Điểm WiFi hoạt động", "WiFi APs up"),
    "ov.clients": ("Người dùng WiFi", "WiFi clients now"),
    "ov.reports_open": ("Phản ánh đang mở", "Open field reports"),
    "ov.alerts_unack": ("Cảnh báo chưa xác nhận", "Unacknowledged alerts"),
    "ov.indicators": ("Chỉ tiêu đạt", "Targets met"),
    "ov.not_online": ("mất kết nối", "offline"),
    "ov.not_up": ("ngừng hoạt động", "down"),
    "ov.stale": ("dữ liệu cũ", "stale"),
    "ov.unknown": ("không có dữ liệu", "no data"),
    "ov.feeds": ("Nguồn dữ liệu", "Data feeds"),
    "ov.feed_age": ("tin nhắn cuối {age} trước", "last message {age} ago"),
    "ov.store_problem": ("Kho dữ liệu từ chối ghi", "Store refuses writes"),
    "ov.retrying": ("đang thử lại", "retrying"),
    "feed.camera": ("Camera", "Cameras"),
    "feed.wifi": ("WiFi", "WiFi"),
    "feed.report": ("Phản ánh", "Field reports"),
    "feed.kpi": ("Chỉ số", "Indicators"),
    "of": ("{part} / {whole}", "{part} / {whole}"),
    # Cameras
    "cam.timeline": ("Mất kết nối 24 giờ qua", "Outages, last 24 hours"),
    "cam.offline_list": ("Camera cần xử lý", "Cameras needing attention"),
    "cam.restored": ("Đã khôi phục", "Restored"),
    "cam.none_offline": ("Không có camera mất kết nối", "No camera offline"),
    "cam.unknown_ward": ("Chưa rõ phường", "Ward unknown"),
    "cam.down_n": ("{n} mất kết nối", "{n} down"),
    # An open anomaly on a ward's panel or an indicator's card (layouts.alerts.anomaly_note):
    # since when, and its value at the raise against what was usual then.
    "anomaly.note": ("Bất thường từ {since}: {words}", "Anomaly since {since}: {words}"),
    "anomaly.band": ("{value} · thường {band}", "{value} · usual {band}"),
    # WiFi
    "wifi.by_site": ("Người dùng theo điểm", "Clients per site"),
    "wifi.curve": (
        "Người dùng 24 giờ qua và dự báo 6 giờ tới",
        "Clients, last 24 h and next 6 h forecast",
    ),
    "wifi.usual": ("Mức bình thường", "Usual range"),
    "wifi.now": ("Bây giờ", "Now"),
    "wifi.forecast": ("Dự báo", "Forecast"),
    "wifi.anomaly": ("Bất thường", "Anomaly"),
    "wifi.today": ("Hôm nay", "Today"),
    "wifi.yesterday": ("Hôm qua", "Yesterday"),
    "wifi.top": ("Điểm truy cập tải cao nhất", "Most loaded access points"),
    "wifi.throughput": ("Lưu lượng (Mbit/s)", "Throughput (Mbit/s)"),
    "wifi.throughput_now": ("Lưu lượng tải xuống", "Download now"),
    "wifi.download": ("Tải xuống", "Download"),
    "wifi.upload": ("Tải lên", "Upload"),
    # Reports
    "rep.by_category": ("Đang mở theo lĩnh vực", "Open by category"),
    "rep.by_ward": ("Đang mở theo phường, xã", "Open by ward"),
    "rep.per_hour": ("Mới và đã xử lý mỗi giờ", "New and resolved per hour"),
    "rep.new": ("Mới", "New"),
    "rep.resolved": ("Đã xử lý", "Resolved"),
    "rep.oldest": ("Tồn đọng lâu nhất", "Oldest open"),
    "rep.map": ("Vị trí phản ánh đang mở", "Open reports on the map"),
    "rep.status.new": ("Mới", "New"),
    "rep.status.assigned": ("Đã giao", "Assigned"),
    "rep.status.in_progress": ("Đang xử lý", "In progress"),
    "rep.none_open": ("Không có phản ánh tồn đọng", "No open report"),
    # Indicators
    # Accountability screen (layouts/accountability.py)
    "acc.headline_reports": ("phản ánh xử lý đúng hạn", "of reports handled on time"),
    "acc.headline_indicators": (
        "{on_time}/{due} chỉ số báo cáo đúng hạn",
        "{on_time} of {due} indicators submitted on time",
    ),
    "acc.league": ("Xếp hạng đơn vị ({days} ngày)", "Units' league table ({days} days)"),
    "acc.unit": ("Đơn vị", "Unit"),
    "acc.indicators": ("Chỉ số kỳ trước", "Last period's indicators"),
    "acc.reports_on_time": ("Đúng hạn", "On time"),
    "acc.overdue": ("Quá hạn", "Overdue"),
    "acc.median": ("Trung vị", "Median"),
    "acc.assigned": ("{n} phản ánh được giao", "reports assigned: {n}"),
    "acc.on_time_of": ("{on_time}/{due} đúng hạn", "{on_time} of {due} on time"),
    "acc.late_n": ("{n} trễ", "{n} late"),
    "acc.missing_n": ("{n} thiếu", "{n} missing"),
    "acc.hours": ("{h} giờ", "{h} h"),
    "acc.sources": ("Nguồn dữ liệu", "Data sources"),
    "acc.owner": ("Phụ trách: {owner}", "Owner: {owner}"),
    "acc.no_owner": ("Chưa giao đơn vị", "No owner"),
    "acc.every": ("cập nhật mỗi {age}", "every {age}"),
    "acc.by_due_day": ("theo hạn báo cáo", "by the due day"),
    "acc.unit_indicators": ("Chỉ số: {unit}", "Indicators: {unit}"),
    "acc.last": ("dữ liệu {age} trước", "data {age} ago"),
    "acc.late": ("Chậm", "Late"),
    "acc.more_units": (
        "… {n} đơn vị khác, xếp hạng {first}–{last}",
        "… {n} more units, ranked {first}–{last}",
    ),
    "acc.more_sources": ("… {n} nguồn khác đang trực tiếp", "… {n} more sources, all live"),
    "kpi.summary": ("{met}/{total} chỉ tiêu đạt", "{met} of {total} targets met"),
    "kpi.target": ("Chỉ tiêu {target}", "Target {target}"),
    "kpi.unreported": ("Chưa nhận số liệu", "Nothing reported yet"),
    "kpi.sector": ("Lĩnh vực", "Sector"),
    "proj.of_higher": ("{value}/{target}", "{value} of {target}"),
    "proj.of_lower": ("{value}, tối đa {target}", "{value}, at most {target}"),
    "proj.pace": (
        "Theo nhịp hiện tại, {figure} vào {day}",
        "At the current pace, {figure} by {day}",
    ),
    "proj.trend": ("Theo xu hướng, {figure} vào {day}", "On the trend, {figure} by {day}"),
    "proj.held": ("Nếu giữ mức này, {figure} vào {day}", "If it holds, {figure} by {day}"),
    "proj.range": ("khoảng {low}–{high}", "likely {low}–{high}"),
    "proj.reached": ("Đã chốt: {figure}", "Settled already: {figure}"),
    "proj.final": ("Kỳ {period} đã kết thúc", "Period {period} is over"),
    "path.console": ("Bảng điều khiển", "Console"),
    "path.file": ("Tệp", "File"),
    "path.api": ("API", "API"),
    "path.mqtt": ("MQTT", "MQTT"),
    # The indicator catalogue and submissions (python -m wall indicators)
    "ind.catalogue": (
        "Danh mục chỉ số điều hành: {city} ({n})",
        "Operating indicators: {city} ({n})",
    ),
    "ind.columns": (
        "mã\ttên\tlĩnh vực\tđơn vị tính\tchỉ tiêu\tgiá trị của kỳ\tkỳ\tđơn vị chịu trách nhiệm"
        "\thạn nộp",
        "id\tname\tsector\tunit\ttarget\tperiod's value\tperiod\tresponsible unit\tdue",
    ),
    "ind.higher": ("≥ {target} (cao hơn là tốt)", "≥ {target} (higher is better)"),
    "ind.lower": ("≤ {target} (thấp hơn là tốt)", "≤ {target} (lower is better)"),
    "ind.last": ("giá trị cuối", "last value"),
    "ind.sum": ("tổng", "sum"),
    "ind.mean": ("trung bình", "mean"),
    "ind.month": ("tháng", "month"),
    "ind.quarter": ("quý", "quarter"),
    "ind.year": ("năm", "year"),
    "ind.due": ("ngày thứ {n} sau kỳ", "day {n} after the period"),
    "sub.unknown": (
        "chỉ số “{id}” không có trong danh mục",
        "indicator “{id}” is not in the catalogue",
    ),
    "sub.not_yours": (
        "chỉ số “{id}” do {owner} nộp, không phải {unit}",
        "indicator “{id}” is submitted by {owner}, not {unit}",
    ),
    "sub.no_period": (
        "“{period}” không phải một {kind} ({form})",
        "“{period}” is not a {kind} ({form})",
    ),
    "sub.not_open": (
        "kỳ {period} không mở để nộp (đang mở: {open})",
        "period {period} is not open (open now: {open})",
    ),
    "sub.no_value": ("thiếu giá trị", "no value"),
    "sub.not_number": ("giá trị “{value}” không phải là số", "value “{value}” is not a number"),
    "sub.comma": (
        "giá trị “{value}” có dấu phẩy: viết số thập phân bằng dấu chấm (98.5), không có dấu "
        "phân cách hàng nghìn",
        "value “{value}” has a comma: write decimals with a point (98.5), without thousands "
        "separators",
    ),
    "sub.long_note": ("ghi chú dài hơn {n} ký tự", "note longer than {n} characters"),
    "sub.duplicate": (
        "trùng dòng {row} (cùng chỉ số và kỳ)",
        "repeats row {row} (same indicator and period)",
    ),
    "sub.given": (
        "kỳ này đã có giá trị {value} ({by}, {at}); muốn sửa thì nêu lý do (--reason, hoặc "
        "reason trong API)",
        "this period already has the value {value} ({by}, {at}); give a reason to correct it "
        "(--reason, or reason in the API)",
    ),
    "sub.too_many": ("quá {n} dòng", "more than {n} rows"),
    "imp.suffix": (
        "tệp “{suffix}” không được hỗ trợ: dùng .csv (UTF-8) hoặc .xlsx",
        "a “{suffix}” file is not supported: use .csv (UTF-8) or .xlsx",
    ),
    "imp.too_big": ("tệp lớn hơn {mib} MiB", "the file is larger than {mib} MiB"),
    "imp.missing": ("không có tệp này", "there is no such file"),
    "imp.unreadable": ("không đọc được tệp: {error}", "the file cannot be read: {error}"),
    "imp.empty": ("tệp không có dòng nào", "the file has no rows"),
    "imp.header": (
        "dòng {row}: tiêu đề phải là {header}",
        "row {row}: the header must be {header}",
    ),
    "imp.columns": ("có hơn {n} cột", "has more than {n} columns"),
    "imp.formula": (
        "cột {columns} là công thức chưa có kết quả được lưu (mở và lưu tệp bằng Excel hoặc "
        "LibreOffice, hoặc nhập số)",
        "column {columns} is a formula with no saved result (open and save the file in Excel or "
        "LibreOffice, or type the number)",
    ),
    "imp.not_utf8": (
        "tệp CSV không phải văn bản UTF-8 (lưu lại dạng “CSV UTF-8”)",
        "the CSV file is not UTF-8 text (save it as “CSV UTF-8”)",
    ),
    "imp.bad_csv": ("tệp CSV hỏng: {error}", "the CSV file is broken: {error}"),
    "imp.not_xlsx": ("không phải tệp Excel .xlsx: {error}", "not an Excel .xlsx file: {error}"),
    "imp.refused": (
        "{file}: bị từ chối, không lưu gì ({n} dòng lỗi):",
        "{file}: refused, nothing stored ({n} bad rows):",
    ),
    "imp.row": ("  dòng {row}: {reason}", "  row {row}: {reason}"),
    "imp.stored": (
        "đã lưu lần nộp {id}: {n} giá trị của {unit}, người nộp {by} ({file})",
        "stored submission {id}: {n} values of {unit}, submitted by {by} ({file})",
    ),
    "imp.no_unit": (
        "--unit “{unit}” không phải đơn vị xử lý của hồ sơ thành phố (có: {known})",
        "--unit “{unit}” is not a handling unit of the city profile (known: {known})",
    ),
    # Alerts
    "al.active": ("Cảnh báo đang hoạt động", "Active alerts"),
    "al.none": ("Không có cảnh báo", "No active alert"),
    "al.unacked": ("Chưa xác nhận", "Unacknowledged"),
    "al.shelved": ("Tạm ẩn", "Shelved"),
    "al.newest": ("cảnh báo mới nhất {age} trước", "newest alert {age} ago"),
    "al.flood": (
        "Lũ cảnh báo: {n} cảnh báo mới trong 10 phút – đang gộp theo loại",
        "Alarm flood: {n} new alerts in 10 minutes – grouped by kind",
    ),
    "al.escalated": ("ĐÃ BÁO CẤP TRÊN", "ESCALATED"),
    "al.group": ("{n} cảnh báo", "{n} alerts"),
    "al.group_unacked": ("{n} chưa xác nhận", "{n} unacknowledged"),
    # The alarm banner every screen carries (layouts/alarm.py)
    "alarm.count": ("{n} khẩn cấp chưa xác nhận", "{n} critical unacknowledged"),
    "alarm.escalated": ("{n} đã báo cấp trên", "{n} escalated"),
    "alarm.oldest": ("Cũ nhất:", "Oldest:"),
    "alarm.flood": ("Lũ cảnh báo: {n} mới trong 10 phút", "Alarm flood: {n} new in 10 min"),
    "alarm.rules_stopped": (
        "Quy tắc cảnh báo không chạy từ {time}",
        "Alert rules not running since {time}",
    ),
    "alarm.rules_never": (
        "Quy tắc cảnh báo chưa chạy lần nào",
        "Alert rules have not run yet",
    ),
    "al.owner": ("Phụ trách: {owner}", "Owner: {owner}"),
    "alarm.owner": ("Phụ trách: {owner}", "Owner: {owner}"),
    "alarm.sound_blocked": ("Âm thanh cảnh báo bị chặn", "Alarm sound blocked"),
    # Kiosk / URL problems
    "param.unknown_layout": (
        "Tham số “{param}”: không có màn hình “{value}” (có: {known})",
        "Parameter “{param}”: no screen “{value}” (known: {known})",
    ),
    "param.bad_rotate": (
        "Tham số “{param}”: “{value}” không phải số giây từ {low} đến {high}; dùng {default} giây",
        "Parameter “{param}”: “{value}” is not a number of seconds from {low} to {high}; "
        "using {default} s",
    ),
    "param.bad_lang": (
        "Tham số “{param}”: “{value}” không phải vi hoặc en",
        "Parameter “{param}”: “{value}” is not vi or en",
    ),
    "param.bad_sound": (
        "Tham số “{param}”: “{value}” không phải mức cảnh báo (có: {known})",
        "Parameter “{param}”: “{value}” is not an alert severity (known: {known})",
    ),
    "param.bad_screen": (
        "Tham số “{param}”: “{value}” không phải tên màn hình (chữ, số, “-”, “_”, “.”; tối đa "
        "64); màn hình báo tín hiệu không tên",
        "Parameter “{param}”: “{value}” is not a screen name (letters, digits, “-”, “_”, “.”; "
        "at most 64); the screen reports without a name",
    ),
    "param.no_layouts": (
        "Tham số “{param}”: không có màn hình hợp lệ; hiển thị {fallback}",
        "Parameter “{param}”: no valid screen; showing {fallback}",
    ),
    "param.unknown": (
        "Tham số “{param}” không được hỗ trợ (có: {known})",
        "Parameter “{param}” is not supported (known: {known})",
    ),
    "page.not_found": ("Không có trang “{path}”", "No page “{path}”"),
    # The duty officers' console (/officer)
    "oc.title": ("Bàn trực ban – Cảnh báo", "Duty officer console – Alerts"),
    "oc.signin": ("Đăng nhập trực ban", "Duty officer sign-in"),
    "oc.name": ("Tên đăng nhập", "User name"),
    "oc.password": ("Mật khẩu", "Password"),
    "oc.signin_button": ("Đăng nhập", "Sign in"),
    "oc.signout": ("Đăng xuất", "Sign out"),
    "oc.signed_in_as": ("Đang trực: {name}", "On duty: {name}"),
    "oc.bad_credentials": ("Sai tên đăng nhập hoặc mật khẩu.", "Wrong user name or password."),
    "oc.too_many": (
        "Quá nhiều lần đăng nhập sai. Vui lòng thử lại sau {minutes} phút (lúc {time}).",
        "Too many failed sign-ins. Try again in {minutes} minutes (at {time}).",
    ),
    "oc.signin_invalid": (
        "Cần nhập tên đăng nhập (tối đa {name} ký tự) và mật khẩu (tối đa {password} ký tự).",
        "Enter a user name (at most {name} characters) and a password (at most {password} "
        "characters).",
    ),
    "oc.refused": (
        "Yêu cầu bị từ chối: cần đăng nhập trực ban và mã bảo vệ hợp lệ.",
        "Request refused: it needs a signed-in duty officer and a valid form token.",
    ),
    "oc.expired": (
        "Phiên trực đã hết hạn, vui lòng đăng nhập lại.",
        "Session expired; sign in again.",
    ),
    "oc.session_ended": (
        "Phiên trực này đã kết thúc (đăng xuất, hoặc tài khoản bị xóa, khóa hay đổi mật khẩu). "
        "Vui lòng đăng nhập lại.",
        "This session has ended (signed out, or the account was removed, disabled or given a "
        "new password). Sign in again.",
    ),
    "oc.too_large": (
        "Yêu cầu quá lớn: biểu mẫu chỉ nhận tối đa {kb} KB.",
        "Request too large: a form takes at most {kb} KB.",
    ),
    "oc.missing_fields": (
        "Biểu mẫu thiếu trường: {fields}. Hãy tải lại trang.",
        "The form lacks: {fields}. Reload the page.",
    ),
    "oc.unknown_action": ("Thao tác không hợp lệ: {action!r}.", "Unknown action: {action!r}."),
    "oc.bad_minutes": (
        "Thời gian tạm ẩn phải là số phút lớn hơn 0 và không quá {most}.",
        "The shelving time must be a number of minutes above 0 and at most {most}.",
    ),
    "oc.reporter_no_alerts": (
        "Tài khoản báo cáo số liệu của đơn vị không được xử lý cảnh báo.",
        "A unit's reporter account may not act on alerts.",
    ),
    "oc.no_such_alert": (
        "Không có cảnh báo này. Hãy tải lại trang.",
        "There is no such alert. Reload the page.",
    ),
    "oc.alert_changed": (
        "Cảnh báo này đã phát sinh lại sau khi trang được hiển thị; chưa ghi nhận gì. "
        "Hãy xem cảnh báo mới bên dưới rồi thao tác.",
        "This alert was raised again after the page was shown; nothing was recorded. "
        "Look at the new alert below, then act on it.",
    ),
    # Why an officer's action does not apply (wall.alerts.model.AlertActionError)
    "oc.why.unknown_action": (
        "Thao tác không hợp lệ: {action}; các thao tác: {known}.",
        "Unknown action {action}; known: {known}.",
    ),
    "oc.why.no_such_alert": ("Không có cảnh báo này.", "There is no such alert."),
    "oc.why.note_too_long": (
        "Ghi chú dài quá {chars} ký tự.",
        "The note is longer than {chars} characters.",
    ),
    "oc.why.closed_not_shelved": (
        "Cảnh báo đã đóng thì không thể tạm ẩn.",
        "A closed alert cannot be shelved.",
    ),
    "oc.why.shelve_needs_reason": (
        "Tạm ẩn cần ghi lý do.",
        "Shelving needs a reason.",
    ),
    "oc.why.shelve_range": (
        "Thời gian tạm ẩn phải lớn hơn 0 và không quá {hours:g} giờ.",
        "Shelve for more than 0 and at most {hours:g} hours.",
    ),
    "oc.why.not_shelved": ("Cảnh báo này không bị tạm ẩn.", "This alert is not shelved."),
    "oc.why.empty_note": ("Ghi chú đang để trống.", "The note is empty."),
    "oc.why.closed_not_assigned": (
        "Cảnh báo đã đóng, không giao xử lý được nữa.",
        "The alert is closed: it cannot be assigned any more.",
    ),
    "oc.why.no_owner": (
        "Chọn đơn vị hoặc cán bộ để giao xử lý.",
        "Choose a unit or a person to assign the alert to.",
    ),
    "oc.why.not_assigned": (
        "Cảnh báo này chưa được giao cho ai.",
        "This alert is not assigned to anyone.",
    ),
    "oc.why.no_step": ("Chưa chọn bước của quy trình.", "No step of the procedure was named."),
    "oc.why.step_checked_already": (
        "Bước này đã được đánh dấu xong.",
        "This step is checked off already.",
    ),
    "oc.why.step_unchecked_already": (
        "Bước này chưa được đánh dấu.",
        "This step is not checked off.",
    ),
    "oc.unknown_owner": (
        "Không có đơn vị xử lý hay cán bộ {owner!r}.",
        "There is no handling unit or person {owner!r}.",
    ),
    "oc.unknown_step": (
        "Quy trình của cảnh báo này không có bước {step!r}.",
        "The procedure of this alert has no step {step!r}.",
    ),
    "oc.alert_not_found": (
        "Không có cảnh báo với khóa {alert_key!r}.",
        "There is no alert with the key {alert_key!r}.",
    ),
    "oc.assigned": ("Giao xử lý", "Assign"),
    "oc.unassigned": ("Bỏ giao", "Remove owner"),
    "oc.step_checked": ("Xong bước", "Check step"),
    "oc.step_unchecked": ("Bỏ đánh dấu bước", "Uncheck step"),
    "oc.owner": (
        "Phụ trách: {owner} (giao bởi {who} lúc {time})",
        "Owner: {owner} (assigned by {who} at {time})",
    ),
    "oc.no_owner": ("Chưa giao cho ai", "Not assigned to anyone"),
    "oc.units": ("Đơn vị xử lý", "Handling units"),
    "oc.people": ("Cán bộ trực", "Duty officers"),
    "oc.procedure": ("Quy trình xử lý", "Procedure"),
    "oc.no_procedure": (
        "Không có quy trình xử lý cho loại cảnh báo này.",
        "No procedure for this kind of alert.",
    ),
    "oc.steps_done": ("{done}/{total} bước đã xong", "{done} of {total} steps done"),
    "oc.step_by": ("xong: {who}, {time}", "done: {who}, {time}"),
    "oc.details": ("Chi tiết, quy trình, diễn biến", "Details, procedure, timeline"),
    "oc.timeline": ("Diễn biến", "Timeline"),
    "oc.summary": ("Báo cáo sau sự việc", "After-action summary"),
    "oc.summary_txt": ("Tải báo cáo (văn bản)", "Download summary (text)"),
    "oc.summary_csv": ("Tải diễn biến (CSV)", "Download timeline (CSV)"),
    "oc.key": ("Khóa", "Key"),
    "oc.kind": ("Loại", "Kind"),
    "oc.who": ("Người thực hiện", "By"),
    "oc.event": ("Sự kiện", "Event"),
    "oc.detail": ("Chi tiết", "Details"),
    "oc.exported": ("Xuất lúc {time} ({zone})", "Exported at {time} ({zone})"),
    "oc.tl.raised": ("Phát sinh", "Raised"),
    "oc.tl.acknowledged": ("Xác nhận", "Acknowledged"),
    "oc.tl.shelved": ("Tạm ẩn", "Shelved"),
    "oc.tl.unshelved": ("Bỏ tạm ẩn", "Unshelved"),
    "oc.tl.noted": ("Ghi chú", "Note"),
    "oc.tl.assigned": ("Giao xử lý", "Assigned"),
    "oc.tl.unassigned": ("Bỏ giao xử lý", "Owner removed"),
    "oc.tl.step_checked": ("Xong bước", "Step checked"),
    "oc.tl.step_unchecked": ("Bỏ đánh dấu bước", "Step unchecked"),
    "oc.tl.escalated": ("Báo động cấp trên", "Escalated"),
    "oc.tl.cleared": ("Đã hết", "Cleared"),
    "oc.tl.notified": ("Đã thông báo", "Notified"),
    "oc.tl.notify_dropped": ("Không gửi được thông báo", "Notification dropped"),
    "oc.tl.shelved_until": ("đến {time}", "until {time}"),
    "oc.tl.via": ("qua {channel}: {what}", "via {channel}: {what}"),
    # Notifications (wall.notifications.messages): one line per alert event, a subject per message
    "nt.raised": ("Cảnh báo mới", "New alert"),
    "nt.acknowledged": ("Đã xác nhận bởi {by}", "Acknowledged by {by}"),
    "nt.shelved": ("Tạm ẩn đến {until} bởi {by}", "Shelved until {until} by {by}"),
    "nt.escalated": ("Báo động cấp trên: chưa ai xác nhận", "Escalated: nobody acknowledged it"),
    "nt.cleared": ("Đã hết", "Cleared"),
    "nt.assigned": ("Giao cho {owner} bởi {by}", "Assigned to {owner} by {by}"),
    "nt.note": ("Ghi chú: {note}", "Note: {note}"),
    "nt.event.assigned": ("Giao xử lý", "Assigned"),
    "nt.event.raised": ("Cảnh báo mới", "New alert"),
    "nt.event.acknowledged": ("Đã xác nhận", "Acknowledged"),
    "nt.event.shelved": ("Tạm ẩn", "Shelved"),
    "nt.event.escalated": ("Báo động cấp trên", "Escalated"),
    "nt.event.cleared": ("Đã hết", "Cleared"),
    "nt.group": ("{count} thông báo cảnh báo", "{count} alert notifications"),
    "oc.none": ("Không có cảnh báo nào cần xử lý.", "No alerts need attention."),
    "oc.acknowledged": ("Xác nhận", "Acknowledge"),
    "oc.shelved": ("Tạm ẩn", "Shelve"),
    "oc.unshelved": ("Bỏ tạm ẩn", "Unshelve"),
    "oc.noted": ("Ghi chú", "Add note"),
    "oc.note": ("Ghi chú / lý do", "Note / reason"),
    "oc.note_label": ("Ghi chú", "Note"),
    "oc.minutes": ("{n} phút", "{n} min"),
    "oc.done": ("Đã ghi nhận: {action} – {alert}", "Recorded: {action} – {alert}"),
    "oc.audit": ("Nhật ký xử lý", "Audit trail"),
    "oc.audit_csv": ("Tải CSV", "Download CSV"),
    "oc.alerts": ("Cảnh báo", "Alerts"),
    "oc.time": ("Thời điểm", "Time"),
    "oc.officer": ("Cán bộ", "Officer"),
    "oc.action": ("Thao tác", "Action"),
    "oc.alert": ("Cảnh báo", "Alert"),
    "oc.severity": ("Mức độ", "Severity"),
    "oc.state": ("Trạng thái", "State"),
    "oc.raised": ("Phát sinh", "Raised"),
    "oc.shelved_until": ("Tạm ẩn đến {time} ({who}: {why})", "Shelved until {time} ({who}: {why})"),
    "oc.acked_by": ("Xác nhận bởi {who} lúc {time}", "Acknowledged by {who} at {time}"),
    "oc.escalated": ("ĐÃ BÁO ĐỘNG CẤP TRÊN", "ESCALATED"),
    "oc.screens": ("Màn hình", "Screens"),
    "oc.screens_title": (
        "Bàn trực ban – Sức khỏe màn hình",
        "Duty officer console – Screen health",
    ),
    "oc.screens_intro": (
        "Mỗi trang của tường màn hình báo tín hiệu mỗi {every} giây. Màn hình có tên "
        "(tham số ?screen=) im lặng quá {minutes} phút sẽ phát sinh cảnh báo.",
        "Every wall page reports every {every} s. A named screen (?screen= parameter) silent "
        "for more than {minutes} min raises an alert.",
    ),
    "oc.screens_none": (
        "Chưa có màn hình nào báo tín hiệu.",
        "No screen has reported yet.",
    ),
    "oc.screen_name": ("Màn hình", "Screen"),
    "oc.screen_unnamed": ("(không tên)", "(unnamed)"),
    "oc.screen_url": ("Địa chỉ", "URL"),
    "oc.screen_heard": ("Tín hiệu cuối", "Last heard"),
    "oc.screen_uptime": ("Thời gian chạy", "Uptime"),
    "oc.screen_refresh": ("Làm mới cuối", "Last refresh"),
    "oc.screen_reconnects": ("Kết nối lại", "Reconnects"),
    "oc.screen_heap": ("Bộ nhớ JS", "JS heap"),
    "oc.screen_status": ("Tình trạng", "Status"),
    "oc.screen_live": ("● Đang hoạt động", "● Live"),
    "oc.screen_silent": ("✖ Im lặng {age}", "✖ Silent for {age}"),
    "oc.screen_no_refresh": ("chưa lần nào", "none yet"),
    "oc.briefs": ("Báo cáo lãnh đạo", "Leaders' briefs"),
    "oc.briefs_intro": (
        "Báo cáo ngày, tuần, tháng do dịch vụ wall briefs lập sau khi mỗi kỳ kết thúc, "
        "lưu trong {folder}; mới nhất ở trên.",
        "Daily, weekly and monthly briefs made by the wall briefs service once each period "
        "ends, kept in {folder}; newest first.",
    ),
    "oc.briefs_none": ("Chưa có báo cáo nào.", "No brief has been made yet."),
    "oc.briefs_no_dir": (
        "Chưa có thư mục báo cáo: chưa báo cáo nào được lập (dịch vụ `wall briefs` chưa chạy?).",
        "The brief folder does not exist: no brief has been made (is `wall briefs` running?).",
    ),
    "oc.briefs_unreadable": (
        "Không đọc được thư mục báo cáo: {why}.",
        "The brief folder cannot be read: {why}.",
    ),
    "oc.briefs_mail_unknown": (
        "Không truy cập được kho dữ liệu: chưa biết báo cáo nào đã gửi thư.",
        "The data store cannot be reached: which briefs were e-mailed is not known.",
    ),
    "oc.brief_kind": ("Loại", "Kind"),
    "oc.brief_period": ("Kỳ", "Period"),
    "oc.brief_lang": ("Ngôn ngữ", "Language"),
    "oc.brief_made": ("Lập lúc", "Made at"),
    "oc.brief_files": ("Tải về", "Download"),
    "oc.brief_mail": ("Thư điện tử", "E-mail"),
    "oc.brief_day": ("Ngày", "Day"),
    "oc.brief_week": ("Tuần", "Week"),
    "oc.brief_month": ("Tháng", "Month"),
    "oc.brief_mailed": ("đã gửi {time} tới {count} người", "e-mailed {time} to {count}"),
    "oc.brief_not_mailed": ("chưa gửi thư: {why}", "not e-mailed: {why}"),
    "oc.brief_not_found": (
        "Không có báo cáo này (chỉ tải được tệp trong danh sách báo cáo).",
        "There is no such brief (only the files in the list of briefs can be downloaded).",
    ),
    "oc.unknown": ("—", "—"),
    "oc.store_down": (
        "Không truy cập được kho dữ liệu – thử lại sau.",
        "The data store cannot be reached – try again shortly.",
    ),
    # The console's indicator pages (wall.indicator_console, /officer/indicators)
    "oc.ind_nav": ("Chỉ số", "Indicators"),
    "oc.ind_title": (
        "Bàn trực ban – Nộp số liệu chỉ số điều hành",
        "Duty officer console – Indicator figures",
    ),
    "oc.ind_intro_unit": (
        "Các chỉ số do {unit} nộp. Mỗi giá trị được lưu kèm tên người nộp và thời điểm; "
        "không xóa được, chỉ sửa bằng một lần nộp mới có nêu lý do.",
        "The indicators {unit} submits. Each value is kept with who gave it and when; none is "
        "removed, a correction is a new value with its reason.",
    ),
    "oc.ind_intro_all": (
        "Chỉ số của mọi đơn vị. Mỗi giá trị được lưu kèm tên người nộp và thời điểm; không xóa "
        "được, chỉ sửa bằng một lần nộp mới có nêu lý do.",
        "Every unit's indicators. Each value is kept with who gave it and when; none is "
        "removed, a correction is a new value with its reason.",
    ),
    "oc.ind_target": ("Chỉ tiêu", "Target"),
    "oc.ind_kind": ("Kỳ báo cáo", "Reported per"),
    "oc.ind_history": ("Lịch sử nộp", "Submission history"),
    "oc.ind_latest": ("Giá trị mới nhất", "Latest value"),
    "oc.ind_latest_of": ("kỳ {period}:", "period {period}:"),
    "oc.ind_none_yet": ("chưa có giá trị", "no value yet"),
    "oc.ind_given": ("{value} – {who}, {time} ({path})", "{value} – {who}, {time} ({path})"),
    "oc.ind_period_now": ("Kỳ {period} (đang diễn ra)", "Period {period} (under way)"),
    "oc.ind_period_ended": ("Kỳ {period} (đã kết thúc)", "Period {period} (ended)"),
    "oc.ind_due_pending": (
        "Kỳ {period}: hạn nộp hết ngày {day}, chưa nộp",
        "Period {period}: due by the end of {day}, not submitted yet",
    ),
    "oc.ind_due_missing": (
        "⚠ Kỳ {period}: quá hạn (hết ngày {day}), chưa nộp",
        "⚠ Period {period}: overdue (due by the end of {day}), not submitted",
    ),
    "oc.ind_due_on_time": (
        "✔ Kỳ {period}: đã nộp đúng hạn",
        "✔ Period {period}: submitted on time",
    ),
    "oc.ind_due_sent": (
        "✔ Kỳ {period}: đã nhận số liệu tự động (MQTT) trong kỳ",
        "✔ Period {period}: values received automatically (MQTT) during the period",
    ),
    "oc.ind_due_late": (
        "Kỳ {period}: nộp trễ (hạn hết ngày {day})",
        "Period {period}: submitted late (due by the end of {day})",
    ),
    "oc.ind_period": ("Kỳ", "Period"),
    "oc.ind_value": ("Giá trị", "Value"),
    "oc.ind_note": ("Ghi chú", "Note"),
    "oc.ind_reason": ("Lý do sửa (khi kỳ đã có giá trị)", "Reason to correct (if already given)"),
    "oc.ind_submit": ("Nộp", "Submit"),
    "oc.ind_form_refused": (
        "Chưa lưu gì: xem các lỗi ghi cạnh từng ô bên dưới.",
        "Nothing stored: see the problems next to the fields below.",
    ),
    "oc.ind_period_closed": (
        "Kỳ “{period}” không mở để nộp; chọn một kỳ đang mở: {open}.",
        "Period “{period}” is not open; choose an open one: {open}.",
    ),
    "oc.ind_too_long": ("Dài hơn {n} ký tự.", "Longer than {n} characters."),
    "oc.ind_reason_needed": (
        "Kỳ {period} đã có giá trị {value} ({who}, {time}): muốn sửa thì ghi lý do.",
        "Period {period} already has the value {value} ({who}, {time}): give a reason to "
        "correct it.",
    ),
    "oc.ind_stored": (
        "Đã lưu {value} cho “{name}”, kỳ {period}.",
        "Stored {value} for “{name}”, period {period}.",
    ),
    "oc.ind_corrected": (
        "Đã sửa “{name}”, kỳ {period}: {value}.",
        "Corrected “{name}”, period {period}: {value}.",
    ),
    "oc.ind_not_yours": (
        "Yêu cầu bị từ chối: chỉ số “{name}” do {owner} nộp, tài khoản của {unit} không nộp "
        "được. Không lưu gì.",
        "Request refused: “{name}” is submitted by {owner}, not by {unit}. Nothing stored.",
    ),
    "oc.ind_other_unit": (
        "Yêu cầu bị từ chối: tài khoản báo cáo chỉ nộp tệp của đơn vị mình. Không lưu gì.",
        "Request refused: a reporter submits files of its own unit only. Nothing stored.",
    ),
    "oc.ind_upload_title": ("Nộp bằng tệp (.csv hoặc .xlsx)", "Submit a file (.csv or .xlsx)"),
    "oc.ind_upload_help": (
        "Dòng đầu là tiêu đề indicator_id, period, value[, note]; CSV lưu dạng UTF-8, số thập "
        "phân dùng dấu chấm; tối đa {mb} MB. Chỉ cần một dòng lỗi là cả tệp bị từ chối, không "
        "lưu gì, và mọi dòng lỗi được liệt kê.",
        "The first row is the header indicator_id, period, value[, note]; CSV saved as UTF-8, "
        "decimals with a point; at most {mb} MB. A single bad row refuses the whole file, "
        "nothing is stored, and every bad row is listed.",
    ),
    "oc.ind_file": ("Tệp", "File"),
    "oc.ind_upload_unit": ("Đơn vị nộp", "Submitting unit"),
    "oc.ind_upload_button": ("Tải lên và lưu", "Upload and store"),
    "oc.ind_no_file": ("Chưa chọn tệp nào.", "No file was chosen."),
    "oc.ind_choose_unit": ("Chọn đơn vị nộp tệp.", "Choose the unit the file is from."),
    "oc.ind_file_refused": (
        "Tệp “{file}” bị từ chối, không lưu gì: {why}",
        "File “{file}” refused, nothing stored: {why}",
    ),
    "oc.ind_upload_refused": (
        "Tệp “{file}” bị từ chối, không lưu gì: {n} dòng lỗi (liệt kê dưới đây).",
        "File “{file}” refused, nothing stored: {n} bad rows (listed below).",
    ),
    "oc.ind_upload_too_large": (
        "Tệp quá lớn: tối đa {mb} MB. Không lưu gì; chia tệp thành nhiều phần rồi nộp lại.",
        "The file is too large: at most {mb} MB. Nothing stored; split it and submit the parts.",
    ),
    "oc.ind_row": ("Dòng", "Row"),
    "oc.ind_row_n": ("dòng {n}", "row {n}"),
    "oc.ind_problem": ("Lỗi", "Problem"),
    "oc.ind_history_title": ("Lịch sử nộp: {name}", "Submission history: {name}"),
    "oc.ind_back": ("← Danh sách chỉ số", "← Indicators"),
    "oc.ind_no_history": ("Chưa có giá trị nào được nộp.", "No value has been submitted yet."),
    "oc.ind_path": ("Kênh", "Path"),
    "oc.ind_note_reason": ("Ghi chú / lý do sửa", "Note / reason"),
    "oc.ind_reason_is": ("Lý do sửa: {reason}", "Reason: {reason}"),
    "oc.ind_current": ("đang dùng", "current"),
    "oc.ind_kind_submitted": ("Nộp", "Submitted"),
    "oc.ind_kind_corrected": ("Sửa", "Corrected"),
}


class Translator:
    """`t("key", n=3)`: the text of `key` in one language, formatted."""

    def __init__(self, lang: str):
        if lang not in LANGUAGES:
            raise ValueError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
        self.lang = lang
        self._index = LANGUAGES.index(lang)

    def __call__(self, key: str, **values: object) -> str:
        text = TEXT[key][self._index]
        return text.format(**values) if values else text

    def label(self, labels: Mapping[str, tuple[str, str]], code: str) -> str:
        """A (vi, en) label of a code, or the code itself when the town has no label for it."""
        pair = labels.get(code)
        return pair[self._index] if pair else code.replace("_", " ")
