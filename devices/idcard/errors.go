package idcard

import "stationdesk/app"

// The classified errors the reader returns to app. None holds personal data.
var (
	errUnsupportedDoc = app.NewError(app.CodeInvalid, "unsupported_document",
		"读卡器不支持此类证件，请人工录入。",
		"This kind of card is not supported by the reader; enter the document by hand.")
	errCardData = app.NewError(app.CodeInvalid, "card_data",
		"证件信息读取异常（字段格式错误），请重新放卡或人工核对。",
		"The card's data is malformed; re-place the card or check the document by hand.")
	errReplace = app.NewError(app.CodeUnavailable, "replace_card",
		"读卡失败，请拿开证件后重新放置。",
		"The card could not be read; lift it and place it on the reader again.")
	errBadFrame = app.NewError(app.CodeUnavailable, "bad_frame",
		"读卡失败：阅读器传回的数据有误。请重试，或拿开证件后重新放置；如反复出现，请检查阅读器连接线。",
		"The card read failed: the reader sent back garbled data. Try again, or lift the card and place it again; if this repeats, check the reader's cable.")
	errDisconnected = app.NewError(app.CodeUnavailable, "reader_disconnected",
		"身份证阅读器已断开，请检查连接线；重新连接后再读卡。",
		"The ID-card reader was disconnected; check the cable and read the card again once it is back.")
	errNoAnswer = app.NewError(app.CodeUnavailable, "reader_not_responding",
		"身份证阅读器无响应，请检查电源和连接线。",
		"The ID-card reader does not answer; check its power and cable.")
	errTimeout = app.NewError(app.CodeUnavailable, "timeout",
		"等待放卡超时。",
		"No card was placed in time.")
	errNotConfigured = app.NewError(app.CodeUnavailable, "not_configured",
		"未配置身份证阅读器。",
		"No ID-card reader is configured.")
)

var errMisconfigured = app.NewError(app.CodeUnavailable, "reader_misconfigured",
	"身份证阅读器线路上有异常数据（波特率或端口可能设置错误），请检查设置。",
	"The ID-card reader's line carries garbage (wrong baud rate or port?); check the settings.")
