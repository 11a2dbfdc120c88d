; StationDesk installer for Windows (NSIS 3, Unicode). Built by `make dist`:
;   makensis -DVERSION=0.1.0 -DVIVERSION=0.1.0.140 -DEXE=stationdesk.exe
;            -DICON=stationdesk.ico -DCONFIG=stationdesk.example.toml
;            -DOUTFILE=stationdesk-0.1.0-windows-amd64-setup.exe stationdesk.nsi
;
; Per machine: the program goes to "Program Files\StationDesk" and the
; Start-menu entries are for all users. The station's data lives apart, in
; %ProgramData%\StationDesk, which the installer creates once with an ACL
; that gives full control to SYSTEM and Administrators and read/write
; (Modify) to the local group "StationDesk Users" only — the clerks'
; Windows accounts are added to that group. Other users cannot read it.
; Uninstalling removes the program and the menu entries and keeps the data
; folder: it holds the station's sales evidence, audit log and keys.
; A 64-bit installer (the program is 64-bit only): it runs without WoW64
; and sees the 64-bit registry and Program Files directly.
Target amd64-unicode
ManifestDPIAware true
RequestExecutionLevel admin
SetCompressor /SOLID lzma

!include "LogicLib.nsh"

!ifndef VERSION
  !error "VERSION not defined"
!endif

Name "StationDesk 站务台"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\StationDesk"
InstallDirRegKey HKLM "Software\StationDesk" "InstallDir"
Icon "${ICON}"
UninstallIcon "${ICON}"
BrandingText "StationDesk ${VERSION}"
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VIVERSION}"
VIAddVersionKey /LANG=0 "ProductName" "StationDesk"
VIAddVersionKey /LANG=0 "FileDescription" "StationDesk installer"
VIAddVersionKey /LANG=0 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=0 "LegalCopyright" "StationDesk maintainers"

!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\StationDesk"
!define GROUP "StationDesk Users"

Page directory
Page instfiles
UninstPage uninstConfirm
UninstPage instfiles

Function .onInit
  SetRegView 64
  SetShellVarContext all
FunctionEnd

Function un.onInit
  SetRegView 64
  SetShellVarContext all
FunctionEnd

Section "StationDesk" SecMain
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; A desk still running keeps its .exe locked: ask to close it.
  SetOverwrite on
  File "/oname=stationdesk.exe" "${EXE}"
  File "/oname=stationdesk.ico" "${ICON}"
  File "/oname=stationdesk.example.toml" "${CONFIG}"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  ; The data folder: created once, never changed when it exists (an
  ; upgrade keeps its contents and its ACL as the station set them).
  ${IfNot} ${FileExists} "$APPDATA\StationDesk\*.*"
    DetailPrint "Creating the data folder $APPDATA\StationDesk"
    nsExec::ExecToLog 'net localgroup "${GROUP}" /add /comment:"Windows accounts that may run the StationDesk desk"'
    Pop $0
    CreateDirectory "$APPDATA\StationDesk"
    ; Two steps, so that a failure leaves the folder closed rather than
    ; open: first only SYSTEM (*S-1-5-18) and Administrators
    ; (*S-1-5-32-544) — SIDs, so a Chinese Windows with localised group
    ; names works the same — with the inherited %ProgramData% entries
    ; (Users may read) removed; then Modify for the clerks' group.
    nsExec::ExecToLog 'icacls "$APPDATA\StationDesk" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F'
    Pop $0
    ${If} $0 != 0
      MessageBox MB_ICONEXCLAMATION "icacls could not restrict $APPDATA\StationDesk ($0): set its ACL by hand (SYSTEM and Administrators full control, $\"${GROUP}$\" modify, nobody else)." /SD IDOK
      SetErrorLevel 2
    ${Else}
      nsExec::ExecToLog 'icacls "$APPDATA\StationDesk" /grant "${GROUP}:(OI)(CI)M"'
      Pop $0
      ${If} $0 != 0
        MessageBox MB_ICONEXCLAMATION "The group $\"${GROUP}$\" could not be given access to $APPDATA\StationDesk ($0); only administrators can use it until it is: icacls $\"$APPDATA\StationDesk$\" /grant $\"${GROUP}:(OI)(CI)M$\"" /SD IDOK
        SetErrorLevel 2
      ${EndIf}
    ${EndIf}
  ${Else}
    DetailPrint "Keeping the data folder $APPDATA\StationDesk as it is"
  ${EndIf}

  CreateDirectory "$SMPROGRAMS\StationDesk"
  CreateShortCut "$SMPROGRAMS\StationDesk\StationDesk 站务台.lnk" "$INSTDIR\stationdesk.exe" '--config "$APPDATA\StationDesk\stationdesk.toml"' "$INSTDIR\stationdesk.ico" 0 SW_SHOWNORMAL "" "StationDesk — station window terminal"
  CreateShortCut "$SMPROGRAMS\StationDesk\Uninstall StationDesk.lnk" "$INSTDIR\uninstall.exe"

  WriteRegStr HKLM "Software\StationDesk" "InstallDir" "$INSTDIR"
  WriteRegStr HKLM "Software\StationDesk" "Version" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "StationDesk 站务台"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "StationDesk maintainers"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\stationdesk.ico"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1

  DetailPrint "Next: from an administrator prompt run"
  DetailPrint '  "$INSTDIR\stationdesk.exe" setup --station-id ID --central URL'
  DetailPrint "and add the clerks' accounts: net localgroup $\"${GROUP}$\" ACCOUNT /add"
SectionEnd

Section "Uninstall"
  Delete "$INSTDIR\stationdesk.exe"
  Delete "$INSTDIR\stationdesk.ico"
  Delete "$INSTDIR\stationdesk.example.toml"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\StationDesk\StationDesk 站务台.lnk"
  Delete "$SMPROGRAMS\StationDesk\Uninstall StationDesk.lnk"
  RMDir "$SMPROGRAMS\StationDesk"
  DeleteRegKey HKLM "${UNINST_KEY}"
  DeleteRegKey HKLM "Software\StationDesk"
  ; The data folder and the group stay (see the top of this file).
  DetailPrint "The data folder $APPDATA\StationDesk is kept."
SectionEnd
