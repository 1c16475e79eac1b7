Write-Output "triage"
