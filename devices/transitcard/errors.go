package transitcard

import "stationdesk/app"

// The classified errors the reader returns to app (no personal data).
var (
	errUnknownCard = app.NewError(app.CodeInvalid, "unknown_card",
		"无法识别此卡，请确认是一卡通、交通联合卡或单程票。",
		"This card is not recognised; is it a Yikatong card, a transport-union card or a single-journey token?")
	errCardData = app.NewError(app.CodeInvalid, "card_data",
		"卡内数据异常，请重新放卡；如仍失败请人工处理。",
		"The card's data is malformed; place it again, or handle it by hand if this repeats.")
	errNotToken = app.NewError(app.CodeInvalid, "not_token",
		"读卡器上不是单程票，请放置空白单程票。",
		"The card on the reader is not a single-journey token; place a blank token.")
	errNotBlank = app.NewError(app.CodeInvalid, "not_blank",
		"此单程票已写入，请换一张空白单程票。",
		"This token is already issued; place a blank one.")
	errTicketSpec = app.NewError(app.CodeInvalid, "ticket_spec",
		"车票参数无效（票价、起点站或有效期）。",
		"The ticket parameters are invalid (fare, origin station or validity).")
	errReplace = app.NewError(app.CodeUnavailable, "replace_card",
		"读卡失败，请拿开卡片后重新放置。",
		"The card could not be read; lift it and place it on the reader again.")
	errDisconnected = app.NewError(app.CodeUnavailable, "reader_disconnected",
		"读卡器已断开，请检查连接线；重新连接后再试。",
		"The card reader was disconnected; check the cable and try again once it is back.")
	errNoAnswer = app.NewError(app.CodeUnavailable, "reader_not_responding",
		"读卡器无响应，请检查电源和连接线。",
		"The card reader does not answer; check its power and cable.")
	errTimeout = app.NewError(app.CodeUnavailable, "timeout",
		"等待放卡超时。",
		"No card was placed in time.")
	errNotConfigured = app.NewError(app.CodeUnavailable, "not_configured",
		"未配置读卡器。",
		"No card reader is configured.")
	errMisconfigured = app.NewError(app.CodeUnavailable, "reader_misconfigured",
		"读卡器线路上有异常数据（波特率或端口可能设置错误），请检查设置。",
		"The card reader's line carries garbage (wrong baud rate or port?); check the settings.")
)
