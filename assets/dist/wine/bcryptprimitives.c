/* For dist-check only, never shipped: Wine 8 (Debian bookworm) has no
 * bcryptprimitives.dll, whose ProcessPrng the Go runtime needs on Windows
 * 10 and later (where Windows has it). This stand-in answers from
 * RtlGenRandom so the .exe can run under that Wine. */
#include <windows.h>
#include <ntsecapi.h>
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (!RtlGenRandom(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
